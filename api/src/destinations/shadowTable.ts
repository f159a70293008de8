import type { EntityCheckpoint, TableRef } from "./Destination";

/**
 * A full refresh writes into a shadow of the entity's table, swapped in when the pass completes,
 * so readers of the live table see the previous complete table until then. The shadow is kept
 * as an entity of its own in Mako's metadata (`ENTITY__mako_shadow`), so the schema machinery
 * (creation, new columns, widening) applies to it unchanged. The swap is in fullRefresh.ts.
 */
export const SHADOW_SUFFIX = "__mako_shadow";

export const shadowRef = (ref: TableRef): TableRef => ({ namespace: ref.namespace, entity: ref.entity + SHADOW_SUFFIX });

export const isShadowEntity = (entity: string) => entity.endsWith(SHADOW_SUFFIX);

/**
 * Whether a shadow left in the destination belongs to the pass now writing: the stored checkpoint
 * is an unfinished full refresh begun at the same time (a resumed pass). Otherwise it is stale.
 */
export function shadowBelongsToPass(stored: EntityCheckpoint | null, pass: EntityCheckpoint): boolean {
  return (
    stored !== null &&
    stored.mode === "full_refresh" &&
    stored.fetchState !== null &&
    stored.passStartedAt === pass.passStartedAt
  );
}

/**
 * SQL giving a deletion written to the shadow during a full refresh (often just its key) the
 * other values of the live row it deletes, as an upsert into the live table would have kept
 * them. `fill` pairs a quoted shadow column with the SQL of its live value (alias `l`; the
 * shadow is `s`). `join` is MySQL's UPDATE … JOIN; the others take UPDATE … FROM.
 */
export function fillDeletionsSql(
  dialect: "from" | "join",
  shadow: string,
  live: string,
  fill: string[][],
  match: string,
  deletedAt: string,
): string | null {
  if (fill.length === 0) return null;
  if (dialect === "join") {
    const sets = fill.map(([column, value]) => `s.${column} = coalesce(s.${column}, ${value})`);
    return `UPDATE ${shadow} AS s JOIN ${live} AS l ON ${match} SET ${sets.join(", ")} WHERE s.${deletedAt} IS NOT NULL`;
  }
  const sets = fill.map(([column, value]) => `${column} = coalesce(s.${column}, ${value})`);
  return `UPDATE ${shadow} AS s SET ${sets.join(", ")} FROM ${live} AS l WHERE ${match} AND s.${deletedAt} IS NOT NULL`;
}
