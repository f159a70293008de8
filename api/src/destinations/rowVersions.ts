// The version guard, as every destination applies it. Each row may carry `_mako_version`
// (microseconds since the Unix epoch); the merge replaces a stored row, or marks it deleted,
// only when the incoming version is not older than the stored one:
//
//   incoming NULL               → replaces (writers that do not stamp keep the old behaviour)
//   stored NULL                 → replaced (older than anything)
//   incoming >= stored          → replaced (an equal version re-applied converges)
//   incoming <  stored          → the stored row stays as it is, deletions included
//
// New keys are always inserted. Each dialect renders the rule in its own merge SQL.

import type { DataRecord } from "../connectors/base/types";
import { VERSION } from "./Destination";

/** The value written to `_mako_version`: an integer, or null when the record has none. */
export function versionValue(value: unknown): number | null {
  if (value == null) return null;
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "bigint" && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  throw new Error(`${VERSION} must be an integer (microseconds since the Unix epoch), got ${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown}`);
}

/** Whether a write at `incoming` replaces a row stored at `stored`: the guard, in code. */
export const replaces = (incoming: number | null, stored: number | null) => incoming === null || stored === null || incoming >= stored;

/** A key's values as one text: `1` and `"1"` name one row (a text key column stores 1 as "1"). */
function keyText(record: DataRecord, primaryKey: string[]): string {
  let text = "";
  for (const k of primaryKey) {
    const v = record[k];
    text += (typeof v === "string" ? v : v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v)) + "\u0000";
  }
  return text;
}

/**
 * One record per key, as applying them one after another under the guard would leave the row:
 * the highest version wins, an equal or missing one replaces the earlier record. Records a later
 * one superseded are dropped. Invalid versions throw (one line, naming the record's position).
 */
export function latestPerKey(records: DataRecord[], primaryKey: string[]): DataRecord[] {
  const byKey = new Map<string, { record: DataRecord; version: number | null }>();
  records.forEach((record, i) => {
    let version: number | null;
    try {
      version = versionValue(record[VERSION]);
    } catch (err) {
      throw new Error(`change ${i + 1}: ${(err as Error).message}`);
    }
    const key = keyText(record, primaryKey);
    const held = byKey.get(key);
    if (!held || replaces(version, held.version)) {
      // Delete first: the map then keeps the order in which each key's winner arrived.
      byKey.delete(key);
      byKey.set(key, { record, version });
    }
  });
  return [...byKey.values()].map((v) => v.record);
}
