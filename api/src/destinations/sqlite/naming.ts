import type { TableRef } from "../Destination";
import type { Naming, TableRole } from "../dialect";
import { type TempTable, tempTableName } from "../tableNames";

export const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/**
 * `SOURCE__ENTITY`; a shadow and a temporary table `_mako_shadow__SOURCE__ENTITY`,
 * `_mako_rebuild__…`: names no synced table can have (see tableNames.ts). A table created
 * under another name keeps it: the catalog records each table's name.
 */
export function tableName(entity: TableRef, role: TableRole = "live", temp?: TempTable): string {
  const live = `${entity.namespace}__${entity.entity}`;
  const base = role === "shadow" ? tempTableName(live, "shadow") : live;
  return temp ? tempTableName(base, temp) : base;
}

export const sqliteNaming: Naming = {
  quote,
  table: (entity, role, temp) => ({ schema: null, name: tableName(entity, role, temp) }),
};
