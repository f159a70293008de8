import type { TableRef } from "../Destination";
import type { Naming, PhysicalName, TableRole } from "../dialect";
import { SHADOW_SUFFIX, isShadowEntity } from "../shadowTable";
import { type TempTable, fitName } from "../tableNames";
import { truncateBytes } from "../tableShape";

/** Identifiers longer than this are truncated by PostgreSQL; Mako names tables and columns within it. */
export const MAX_NAME_BYTES = 63;

export const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

const suffixOf = (role: TableRole, temp?: string) => (role === "shadow" ? SHADOW_SUFFIX : "") + (temp ? `__mako_${temp}` : "");

/**
 * Schema NAME, table ENTITY, each within PostgreSQL's 63-byte identifiers: a longer name is cut
 * and given a hash of the whole (tableNames.ts), so two long entity names stay two tables. A
 * shadow's (or a temporary table's) suffix is kept whole, so that it never is a live table's
 * name (entity names may not contain `__mako_`).
 */
export function tableName(entity: TableRef, role: TableRole = "live", temp?: TempTable): PhysicalName {
  const suffix = suffixOf(role, temp);
  return {
    schema: fitName(entity.namespace, MAX_NAME_BYTES),
    name: fitName(entity.entity, MAX_NAME_BYTES - Buffer.byteLength(suffix)) + suffix,
  };
}

/** The name an older Mako gave a table it did not record (cut without a hash), by its catalog entity. */
export function legacyTableName(ref: TableRef): PhysicalName {
  const shadow = isShadowEntity(ref.entity);
  const entity = shadow ? ref.entity.slice(0, -SHADOW_SUFFIX.length) : ref.entity;
  const suffix = shadow ? SHADOW_SUFFIX : "";
  return { schema: truncateBytes(ref.namespace, MAX_NAME_BYTES), name: truncateBytes(entity, MAX_NAME_BYTES - suffix.length) + suffix };
}

/** The schema and table of an entity, or of a shadow given as its metadata entity (`ENTITY__mako_shadow`). */
export function postgresTableName(ref: TableRef): { schema: string; table: string } {
  const shadow = isShadowEntity(ref.entity);
  const { schema, name } = tableName(shadow ? { ...ref, entity: ref.entity.slice(0, -SHADOW_SUFFIX.length) } : ref, shadow ? "shadow" : "live");
  return { schema: schema!, table: name };
}

export const postgresNaming: Naming = { quote, table: tableName };
