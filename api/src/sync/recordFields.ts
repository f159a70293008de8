// What the engine does to a record's field names before a destination sees them, so that
// nothing a source sends changes meaning or breaks an entity:
// - `_mako_*` names are Mako's system columns: a source's own field of such a name (even
//   `_mako_deleted_at`, unless the connector marked the record with markDeleted) is kept under
//   `_source_` + its name (`_source__mako_deleted_at`); the engine then sets `_mako_version`
//   itself (`stampVersion`), from the connector's `withVersion` or the time of the read;
// - U+0000 and lone UTF-16 surrogates cannot be part of a column name in any destination (nor
//   of a catalog's text in PostgreSQL): they become U+FFFD, the replacement character.
import { DELETED_AT_FIELD, isMarkedDeleted } from "../connectors/base/deletions";
import { SYSTEM_FIELD_PREFIX as RESERVED_PREFIX } from "../connectors/base/reservedNames";
import type { DataRecord } from "../connectors/base/types";
import { VERSION_FIELD, versionOf } from "../connectors/base/version";

export const SOURCE_PREFIX = "_source_";

const UNSAFE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const UNDERSCORE = 95;

/**
 * Left on a record whose `_mako_version` the engine set: a connector that hands the same object
 * again (a static list, say) must not see that value kept as the source's own field.
 */
const STAMPED = Symbol("mako.engine.version");

/** A `_mako_…` field Mako itself set on this record (a marked deletion, the engine's version). */
function isMakoField(field: string, record: DataRecord): boolean {
  if (field === DELETED_AT_FIELD) return isMarkedDeleted(record);
  return field === VERSION_FIELD && (record as Record<symbol, unknown>)[STAMPED] === true;
}

/** Whether a field's name must change before it becomes a column. */
export function needsNewName(field: string, record: DataRecord): boolean {
  if (field.charCodeAt(0) === UNDERSCORE && field.startsWith(RESERVED_PREFIX)) return !isMakoField(field, record);
  return suspect(field) && safeName(field) !== field;
}

/**
 * Sets the row's version, after its fields were renamed (a source's own `_mako_version` is kept
 * under `_source__mako_version` by then): the connector's `withVersion`, else `readAt`, the time
 * (µs) just before the request that read it began.
 */
export function stampVersion(record: DataRecord, readAt: number): void {
  record[VERSION_FIELD] = versionOf(record) ?? readAt;
  (record as Record<symbol, unknown>)[STAMPED] = true;
}

/** U+0000 or a surrogate (paired ones are fine: `safeName` tells). A loop: faster than a regex on short names. */
function suspect(field: string): boolean {
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (c === 0 || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

/**
 * Finds the records whose fields need new names. Records of a chunk mostly have the same fields
 * in the same order: a record whose names are `known` (those of the last clean record, compared
 * as the same strings, which the caller does while it walks the fields anyway) needs no check.
 * Records with `_mako_…` fields are always checked (the deletion mark is per record).
 */
export class FieldNames {
  known: readonly string[] = [];

  /** Whether the record has a field whose name must change; remembers its names when none does. */
  check(record: DataRecord): boolean {
    let reserved = false;
    for (const field in record) {
      if (needsNewName(field, record)) return true;
      if (field.charCodeAt(0) === UNDERSCORE && field.startsWith(RESERVED_PREFIX)) reserved = true;
    }
    this.known = reserved ? [] : Object.keys(record);
    return false;
  }
}

const safeName = (field: string) => field.replace(UNSAFE, "\uFFFD");

/**
 * The record with its fields renamed (order kept): reserved names under `_source_…` (prefixed
 * again while the record has that name too), unsafe characters replaced.
 */
export function withSafeNames(record: DataRecord): DataRecord {
  const out: DataRecord = {};
  for (const field in record) {
    let name = field;
    if (needsNewName(field, record)) {
      name = safeName(field);
      if (name.startsWith(RESERVED_PREFIX) && !isMakoField(name, record)) {
        do name = SOURCE_PREFIX + name;
        while (Object.hasOwn(record, name) || Object.hasOwn(out, name));
      }
    }
    out[name] = record[field];
  }
  // The connector's marks (deletion, version) go along.
  for (const symbol of Object.getOwnPropertySymbols(record)) (out as Record<symbol, unknown>)[symbol] = (record as Record<symbol, unknown>)[symbol];
  return out;
}

/**
 * A key value as the row it names: `1` and `"1"` are one row (a text key column stores the
 * number as "1"), so repeats in a chunk are found whatever type the source used.
 */
export function canonicalKey(value: unknown): unknown {
  if (typeof value === "string") return value;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
