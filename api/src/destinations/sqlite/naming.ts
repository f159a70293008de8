import type { TableRef } from "../Destination";
import type { Naming, TableRole } from "../dialect";
import { SHADOW_SUFFIX } from "../shadowTable";

export const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/** `NAME__ENTITY`, as DESIGN.md names tables in SQLite; a shadow and a temporary table add a suffix. */
export function tableName(entity: TableRef, role: TableRole = "live", temp?: "rebuild" | "old"): string {
  let name = `${entity.namespace}__${entity.entity}`;
  if (role === "shadow") name += SHADOW_SUFFIX;
  if (temp) name += `__mako_${temp}`;
  return name;
}

export const sqliteNaming: Naming = {
  quote,
  table: (entity, role, temp) => ({ schema: null, name: tableName(entity, role, temp) }),
};
