// How a connector says which state of an object a record is. Every row carries a version
// (`_mako_version`, microseconds since the Unix epoch) and a write replaces a row only when its
// version is not older: a webhook that arrives late, or a page read before a change, cannot
// undo a newer write. The engine stamps each pulled record with the time just before the
// request that read it began ("state as of the read"); a connector that knows better (an event
// log's event time, an object's update time) says so with `withVersion`.
import type { DataRecord } from "./types";

/** The column a row's version goes to. */
export const VERSION_FIELD = "_mako_version";

/**
 * The mark `withVersion` leaves. A Symbol, like `markDeleted`'s: no response body can forge it,
 * and a source's own field named `_mako_version` stays the source's data (kept under another name).
 */
const VERSION = Symbol("mako.version");

/**
 * Ranks `record` as the object's state at `micros` (microseconds since the Unix epoch), in
 * place, and returns it. Use it when the source says when this state came to be (an event's
 * time, an `updated_at` with the precision to order changes); without it the record ranks at
 * the time its page was requested.
 */
export function withVersion<T extends DataRecord>(record: T, micros: number): T {
  if (!Number.isSafeInteger(micros) || micros < 0) throw new Error(`withVersion: ${String(micros)} is not a whole number of microseconds since the epoch`);
  // Not enumerable: the record's data (what a spread, a comparison or JSON sees) stays as given.
  Object.defineProperty(record, VERSION, { value: micros, writable: true, configurable: true, enumerable: false });
  return record;
}

/** The version a connector gave the record with `withVersion`, if it did. */
export function versionOf(record: DataRecord): number | undefined {
  const v = (record as Record<symbol, unknown>)[VERSION];
  return typeof v === "number" ? v : undefined;
}

/** Microseconds since the epoch of a time in milliseconds (Date.now(), Date#getTime()). */
export const microsOf = (ms: number) => Math.round(ms * 1000);
