import type { TableRef } from "../Destination";
import type { Naming, TableRole } from "../dialect";
import { SHADOW_SUFFIX, isShadowEntity } from "../shadowTable";
import { type TempTable, fitName, tempTableName } from "../tableNames";

/** MySQL's longest identifier, in characters (names are cut in bytes, which is stricter). */
export const MAX_NAME_CHARS = 64;

export const quote = (identifier: string) => `\`${identifier.replaceAll("`", "``")}\``;

/**
 * `SOURCE__ENTITY`; a shadow and a temporary table `_mako_shadow__SOURCE__ENTITY`,
 * `_mako_old__…`: names no synced table can have. A name longer than MySQL's 64 characters (or
 * ending with a space, which MySQL refuses) is cut and given a hash of the whole (tableNames.ts).
 * A table created under another name keeps it: `_mako_tables` records each table's name.
 */
export function tableName(entity: TableRef, role: TableRole = "live", temp?: TempTable): string {
  const live = `${entity.namespace}__${entity.entity}`;
  const base = role === "shadow" ? tempTableName(live, "shadow") : live;
  return fitName(temp ? tempTableName(base, temp) : base, MAX_NAME_CHARS, { trimEnd: true });
}

/** The table of an entity, or of a shadow given as its metadata entity (`ENTITY__mako_shadow`). */
export function mysqlTableName(ref: TableRef): string {
  if (!isShadowEntity(ref.entity)) return tableName(ref);
  return tableName({ namespace: ref.namespace, entity: ref.entity.slice(0, -SHADOW_SUFFIX.length) }, "shadow");
}

export const mysqlNaming: Naming = {
  quote,
  table: (entity, role, temp) => ({ schema: null, name: tableName(entity, role, temp) }),
};
