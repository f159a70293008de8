import type { TableRef } from "./Destination";
import type { Dialect, PhysicalName, Table, TableRole } from "./dialect";
import { shadowRef } from "./shadowTable";
import { type Step, io } from "./step";
import { nameTakenError } from "./tableNames";

const key = (entity: TableRef, role: TableRole) => `${entity.namespace}\u0000${entity.entity}\u0000${role}`;

/**
 * The tables the flow writes to, as Mako's metadata describes them, cached per entity and role.
 * Writers on several connections share the cache: a table's newer shape (higher generation)
 * is never replaced by an older one read meanwhile.
 */
export class TableCache<C, W> {
  private readonly cached = new Map<string, Table<W>>();

  constructor(private readonly dialect: Dialect<C, W>) {}

  *get(conn: C, entity: TableRef, role: TableRole, primaryKey: string[]): Step<Table<W>> {
    const hit = this.cached.get(key(entity, role));
    return hit ?? this.put(yield* this.load(conn, entity, role, primaryKey));
  }

  /** Reads the table's record afresh (under the schema section when it is about to change). */
  *load(conn: C, entity: TableRef, role: TableRole, primaryKey: string[]): Step<Table<W>> {
    const ref = role === "shadow" ? shadowRef(entity) : entity;
    const name = this.dialect.naming.table(entity, role);
    const stored = yield* io(this.dialect.catalog.load(conn, ref, name));
    return {
      entity,
      role,
      ref,
      name: stored?.name ?? name,
      primaryKey: stored?.primaryKey ?? primaryKey,
      shape: stored?.shape ?? null,
      generation: stored?.generation ?? 0,
      writer: null,
    };
  }

  /** Caches the table unless a newer shape of it is cached already; returns the cached one. */
  put(table: Table<W>): Table<W> {
    const k = key(table.entity, table.role);
    const current = this.cached.get(k);
    if (current && current.generation > table.generation) return current;
    this.cached.set(k, table);
    return table;
  }

  forget(entity: TableRef, role: TableRole): void {
    this.cached.delete(key(entity, role));
  }

  forgetNamespace(namespace: string): void {
    for (const k of this.cached.keys()) if (k.startsWith(`${namespace}\u0000`)) this.cached.delete(k);
  }
}

/** `schema.table` as users query it. */
export const displayName = (name: PhysicalName) => (name.schema === null ? name.name : `${name.schema}.${name.name}`);

/** The table as SQL names it: quoted, schema-qualified where it has a schema. */
export const qualified = (quote: (identifier: string) => string, name: PhysicalName) =>
  name.schema === null ? quote(name.name) : `${quote(name.schema)}.${quote(name.name)}`;

/** The table as error messages name it: schema-qualified names quoted, others bare. */
export const messageName = (quote: (identifier: string) => string, name: PhysicalName) =>
  name.schema === null ? name.name : qualified(quote, name);

/** The primary key's column names (the field itself where it has no column). */
export function keyColumns(table: Table): string[] {
  const byField = new Map(table.shape?.columns.map((c) => [c.field, c.name]));
  return table.primaryKey.map((k) => byField.get(k) ?? k);
}

/**
 * Before a table is created (or a leftover of that name dropped): refused, in one line naming
 * both, when Mako's records give its name to another entity's table. The naming keeps names
 * apart by construction; this catches what it cannot (sources named before its rules).
 */
export function* claimName<C, W>(dialect: Dialect<C, W>, conn: C, table: Table): Step<void> {
  const owner = yield* io(dialect.catalog.ownerOf(conn, table.name));
  if (owner && (owner.namespace !== table.ref.namespace || owner.entity !== table.ref.entity)) {
    throw nameTakenError(messageName(dialect.naming.quote, table.name), table.ref, owner);
  }
}
