import type { TableRef } from "../Destination";
import type { Naming, TableRole } from "../dialect";
import { SHADOW_SUFFIX, isShadowEntity } from "../shadowTable";
import { truncateBytes } from "../tableShape";

/** MySQL's longest identifier, in characters (bytes are stricter, so cutting bytes is safe). */
export const MAX_NAME_CHARS = 64;

export const quote = (identifier: string) => `\`${identifier.replaceAll("`", "``")}\``;

const withSuffix = (name: string, suffix: string) => truncateBytes(name, MAX_NAME_CHARS - suffix.length).trimEnd() + suffix;

/**
 * `NAME__ENTITY`, cut to MySQL's 64 characters (which may not end with a space). A shadow's (or
 * a temporary table's) suffix is kept whole even when the name is cut, so that it never is the
 * live table's name.
 */
export function tableName(entity: TableRef, role: TableRole = "live", temp?: "rebuild" | "old"): string {
  let name = truncateBytes(`${entity.namespace}__${entity.entity}`, MAX_NAME_CHARS).trimEnd();
  if (role === "shadow") name = withSuffix(name, SHADOW_SUFFIX);
  if (temp) name = withSuffix(name, `__mako_${temp}`);
  return name;
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
