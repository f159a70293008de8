import type { TableRef } from "../Destination";
import type { Naming, PhysicalName, TableRole } from "../dialect";
import { SHADOW_SUFFIX, isShadowEntity } from "../shadowTable";
import { truncateBytes } from "../tableShape";

/** Identifiers longer than this are truncated by PostgreSQL; Mako names tables and columns within it. */
export const MAX_NAME_BYTES = 63;

export const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/**
 * Schema NAME, table ENTITY, each cut to PostgreSQL's 63-byte identifiers. A shadow's (or a
 * temporary table's) suffix is kept whole even when the entity's name is cut, so that it never
 * is the live table's name.
 */
export function tableName(entity: TableRef, role: TableRole = "live", temp?: "rebuild" | "old"): PhysicalName {
  const suffix = (role === "shadow" ? SHADOW_SUFFIX : "") + (temp ? `__mako_${temp}` : "");
  return {
    schema: truncateBytes(entity.namespace, MAX_NAME_BYTES),
    name: truncateBytes(entity.entity, MAX_NAME_BYTES - Buffer.byteLength(suffix)) + suffix,
  };
}

/** The schema and table of an entity, or of a shadow given as its metadata entity (`ENTITY__mako_shadow`). */
export function postgresTableName(ref: TableRef): { schema: string; table: string } {
  const shadow = isShadowEntity(ref.entity);
  const { schema, name } = tableName(shadow ? { ...ref, entity: ref.entity.slice(0, -SHADOW_SUFFIX.length) } : ref, shadow ? "shadow" : "live");
  return { schema: schema!, table: name };
}

export const postgresNaming: Naming = { quote, table: tableName };
