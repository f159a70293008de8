// How every dialect names tables so that no two (source, entity) pairs, and no pair and Mako's
// own temporary tables, ever share one: the rules each naming.ts applies, and the one-line
// refusals where a name would still be ambiguous (sources named before the rules, say).
import { createHash } from "node:crypto";
import { isReservedEntityName } from "../connectors/base/reservedNames";
import type { TableRef } from "./Destination";
import { truncateBytes } from "./tableShape";

/**
 * Tables Mako makes beside an entity's own: a table being rebuilt (SQLite widening a column),
 * the old table of a swap (MySQL), and a table that lost Mako's columns, kept aside (`kept_…`).
 */
export type TempTable = "rebuild" | "old" | `kept_${string}`;

/**
 * A shadow's or temporary table's name where tables are `SOURCE__ENTITY` (SQLite, MySQL):
 * `_mako_shadow__SOURCE__ENTITY`. Synced tables start with their source's name, a letter, so none
 * can have it.
 */
export const tempTableName = (base: string, kind: TempTable | "shadow") => `_mako_${kind}__${base}`;

/** The record (and the name, in PostgreSQL and DuckDB) of a table kept aside: `ENTITY__mako_kept_STAMP`. */
export const keptRef = (ref: TableRef, stamp: string): TableRef => ({ namespace: ref.namespace, entity: `${ref.entity}__mako_kept_${stamp}` });

/**
 * `name` when it fits in `maxBytes` UTF-8 bytes; otherwise cut, with `_` and 8 hex digits of
 * its SHA-256 appended, so two long names sharing their beginning stay two tables. With
 * `trimEnd` (MySQL: a name may not end with a space) a name ending with spaces is treated alike.
 */
export function fitName(name: string, maxBytes: number, options: { trimEnd?: boolean } = {}): string {
  const fits = Buffer.byteLength(name) <= maxBytes && !(options.trimEnd && /\s$/.test(name));
  if (fits) return name;
  const hash = `_${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
  let cut = truncateBytes(name, maxBytes - hash.length);
  if (options.trimEnd) cut = cut.trimEnd();
  return cut + hash;
}

/** A synced entity may not take a name Mako gives its own tables and records. */
export function refuseReservedEntity(ref: TableRef): void {
  if (isReservedEntityName(ref.entity)) {
    throw new Error(`entity "${ref.entity}" of source "${ref.namespace}": the name is reserved (names starting with _mako or containing __mako_ are Mako's own tables); rename the entity`);
  }
}

/** The one line refusing a table whose name another entity's table has. */
export function nameTakenError(table: string, wanted: TableRef, owner: TableRef): Error {
  return new Error(
    `table ${table} is already Mako's table of source "${owner.namespace}", entity "${owner.entity}": ` +
      `source "${wanted.namespace}", entity "${wanted.entity}" cannot use it; rename one of the sources (or entities)`,
  );
}
