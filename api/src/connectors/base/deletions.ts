// How a connector reports a deletion. A record is a deletion only when the connector says so
// with `markDeleted`: a field named `_mako_deleted_at` that arrives from a source API is the
// source's data, and the engine keeps it under another column (see docs/destinations.md).
import type { DataRecord } from "./types";

/** The column a deletion's time goes to. */
export const DELETED_AT_FIELD = "_mako_deleted_at";

/**
 * The mark `markDeleted` leaves on a record. A Symbol: JSON.parse can never produce one, so no
 * response body (nor a stored webhook event read back) can forge it.
 */
const DELETION = Symbol("mako.deletion");

/**
 * Marks `record` as deleted at the source at `at` (default: now), in place, and returns it:
 * its row gets `_mako_deleted_at`, and its other fields keep their stored values where the
 * record lacks them. Use it for deletions a source reports (an event log, a webhook, a soft
 * delete flag); rows an entity read whole no longer has are marked by the engine itself.
 */
export function markDeleted<T extends DataRecord>(record: T, at: string | number | Date = new Date()): T {
  const when = at instanceof Date ? at : new Date(at);
  if (Number.isNaN(when.getTime())) throw new Error(`markDeleted: "${String(at)}" is not a time`);
  (record as DataRecord)[DELETED_AT_FIELD] = when.toISOString();
  (record as Record<symbol, unknown>)[DELETION] = true;
  return record;
}

/** Whether the connector marked this record deleted (`markDeleted`), as opposed to a field the source sent. */
export function isMarkedDeleted(record: DataRecord): boolean {
  return (record as Record<symbol, unknown>)[DELETION] === true;
}
