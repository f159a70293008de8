import type { TableRef } from "../Destination";
import type { Naming, PhysicalName, TableRole } from "../dialect";
import { SHADOW_SUFFIX } from "../shadowTable";
import type { TempTable } from "../tableNames";

export const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/** Schema NAME, table ENTITY; a shadow and a temporary table add a suffix. */
export function tableName(entity: TableRef, role: TableRole = "live", temp?: TempTable): PhysicalName {
  const suffix = (role === "shadow" ? SHADOW_SUFFIX : "") + (temp ? `__mako_${temp}` : "");
  return { schema: entity.namespace, name: entity.entity + suffix };
}

export const duckdbNaming: Naming = { quote, table: tableName };
