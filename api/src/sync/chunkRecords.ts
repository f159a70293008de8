import { DEFAULT_RECORD_DEPTH, deeperThan, pathPastDepth } from "../connectors/base/nesting";
import type { DataRecord, Since } from "../connectors/base/types";
import { FieldNames, canonicalKey, stampVersion, withSafeNames } from "./recordFields";

/** An error retrying cannot fix: the engine fails the entity at once. */
export class PermanentSyncError extends Error {
  readonly retryable = false;
}

/**
 * Flattens a chunk's batches, checks every record has its primary key and nests no deeper
 * than `maxDepth`, gives fields that cannot be columns as named a safe name (recordFields.ts),
 * keeps the last record per key (sources may repeat a record inside one chunk; `1` and `"1"`
 * are one key), stamps each record's version (`readAt[b]`: when the request of batch b began,
 * unless the connector gave one) and finds the highest cursor value. One pass over the records;
 * the common case (no repeats, no names to change) copies nothing.
 */
export function prepareChunk(
  batches: DataRecord[][],
  context: { entity: string; primaryKey: string[]; cursorField?: string; seq: number; maxDepth?: number; readAt: number[] },
): { records: DataRecord[]; maxCursor: Since | null } {
  const records = batches.length === 1 ? batches[0] : batches.flat();
  // Where each batch ends in the flat list, to find a record's read time.
  let batch = 0;
  let batchEnd = batches[0]?.length ?? 0;
  const { primaryKey, cursorField } = context;
  const single = primaryKey.length === 1 ? primaryKey[0] : undefined;
  const maxDepth = context.maxDepth ?? DEFAULT_RECORD_DEPTH;
  let seen = new Map<unknown, number>();
  const names = new FieldNames();
  /** The type of the single key's values: when they differ, `1` and `"1"` may name one row (see canonicalKey). */
  let keyType: string | undefined;
  let repeats = false;
  let maxCursor: Since | null = null;

  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      throw new PermanentSyncError(`entity "${context.entity}": record ${i + 1} of chunk ${context.seq} is not an object`);
    }
    let key: unknown;
    if (single !== undefined) {
      key = record[single];
      if (key === undefined || key === null || key === "") throw missingKey(context, i, single);
      // Objects compare by identity in a Map: equal ones are found by their canonical form too.
      const type = typeof key === "object" ? "mixed" : typeof key;
      if (type !== keyType) keyType = keyType === undefined ? type : "mixed";
    } else {
      const parts = primaryKey.map((k) => {
        const v = record[k];
        if (v === undefined || v === null || v === "") throw missingKey(context, i, k);
        return canonicalKey(v);
      });
      key = JSON.stringify(parts);
    }
    if (seen.has(key)) repeats = true;
    seen.set(key, i);
    const known = names.known;
    let sameNames = true;
    let j = 0;
    for (const field in record) {
      const v = record[field];
      // Bounded before anything serializes it: a value nested thousands deep would overflow a
      // serializer's stack with no word of which record or field.
      if (typeof v === "object" && v !== null && deeperThan(v, maxDepth)) throw tooDeep(context, i, field, v, maxDepth);
      if (sameNames) sameNames = known[j++] === field;
    }
    if (!(sameNames && j === known.length) && names.check(record)) records[i] = withSafeNames(record);
    while (i >= batchEnd) batchEnd += batches[++batch].length;
    stampVersion(records[i], context.readAt[batch]);
    if (cursorField !== undefined) {
      const c = record[cursorField];
      if ((typeof c === "string" || typeof c === "number") && (maxCursor === null || laterThan(c, maxCursor))) maxCursor = c;
    }
  }
  // Keys of several types: repeats are found again by the keys' canonical form (rare).
  if (keyType === "mixed") ({ seen, repeats } = canonicalRepeats(records, single!));
  if (!repeats) return { records, maxCursor };
  const last = [...seen.values()].sort((a, b) => a - b);
  return { records: last.map((i) => records[i]), maxCursor };
}

function canonicalRepeats(records: DataRecord[], key: string): { seen: Map<unknown, number>; repeats: boolean } {
  const seen = new Map<unknown, number>();
  records.forEach((record, i) => seen.set(canonicalKey(record[key]), i));
  return { seen, repeats: seen.size < records.length };
}

function tooDeep(context: { entity: string; seq: number }, index: number, field: string, value: unknown, limit: number): PermanentSyncError {
  const at = pathPastDepth(value, limit);
  return new PermanentSyncError(
    `entity "${context.entity}": record ${index + 1} of chunk ${context.seq}: field "${field}" nests deeper than ${limit} levels ` +
      `(at ${field}${at?.startsWith("[") ? "" : "."}${at}); raise settings.maxNestingDepth (at most 1000) to accept it`,
  );
}

function missingKey(context: { entity: string; seq: number }, index: number, field: string): PermanentSyncError {
  return new PermanentSyncError(
    `entity "${context.entity}": record ${index + 1} of chunk ${context.seq} has no primary key "${field}"`,
  );
}

/** Orders marks of the same kind; ISO timestamps compare as instants, numbers as numbers. */
export function laterThan(a: Since, b: Since): boolean {
  if (typeof a === "number" && typeof b === "number") return a > b;
  // Same-shaped UTC ISO strings order as text: skip Date.parse on the per-record path.
  if (typeof a === "string" && typeof b === "string" && a.length === b.length && a.endsWith("Z") && b.endsWith("Z")) {
    return a > b;
  }
  const ta = typeof a === "string" ? Date.parse(a) : NaN;
  const tb = typeof b === "string" ? Date.parse(b) : NaN;
  if (!Number.isNaN(ta) && !Number.isNaN(tb)) return ta > tb;
  return String(a) > String(b);
}

export function latest(a: Since | null, b: Since | null): Since | null {
  if (a === null) return b;
  if (b === null) return a;
  return laterThan(b, a) ? b : a;
}

/** Moves a mark back by the lookback window, keeping its form (ISO string or number). */
export function withLookback(mark: Since | null, seconds: number | undefined): Since | null {
  if (mark === null || !seconds) return mark;
  if (typeof mark === "number") return mark - seconds;
  const t = Date.parse(mark);
  return Number.isNaN(t) ? mark : new Date(t - seconds * 1000).toISOString();
}
