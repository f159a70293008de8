import type { ColumnType } from "./columnTypes";
import type { Dialect, Table } from "./dialect";
import { type Step, io } from "./step";
import { type TableCache, claimName, messageName } from "./tables";
import { type TableShape, applyChange, planChange } from "./tableShape";
import { schemaSection } from "./transactions";

const NO_TABLE: TableShape = { columns: [], overflow: false, versioned: false };

/** Whether a chunk's records need the table created, or columns added or widened. */
export function needsChange<C, W>(dialect: Dialect<C, W>, table: Table<W>, observed: Map<string, ColumnType | undefined>): boolean {
  return table.shape === null || planChange(table.shape, observed, dialect.shape, table.primaryKey) !== null;
}

/**
 * Creates the table, adds columns and widens types for the observed fields, in the namespace's
 * schema section (or the chunk's transaction, see Dialect.schemaChanges). The plan is made
 * against the table's record read afresh there: another writer may have changed it already.
 * DDL only ever adds and widens, so it is harmless when the chunk then fails.
 */
export function* evolve<C, W>(
  dialect: Dialect<C, W>,
  tables: TableCache<C, W>,
  conn: C,
  table: Table<W>,
  observed: Map<string, ColumnType | undefined>,
  inChunk: boolean,
): Step<Table<W>> {
  const join = inChunk && dialect.schemaChanges === "in-chunk";
  const fresh = yield* schemaSection(dialect.driver, conn, table.entity.namespace, join, () => evolveLocked(dialect, tables, conn, table, observed));
  return tables.put(fresh);
}

/** evolve's work, for a caller already in the namespace's schema section (a full refresh's swap). */
export function* evolveLocked<C, W>(
  dialect: Dialect<C, W>,
  tables: TableCache<C, W>,
  conn: C,
  table: Table<W>,
  observed: Map<string, ColumnType | undefined>,
): Step<Table<W>> {
  const { ddl, catalog } = dialect;
  const current = yield* tables.load(conn, table.entity, table.role, table.primaryKey);
  const before = current.shape ?? NO_TABLE;
  const change = planChange(before, observed, dialect.shape, current.primaryKey);
  if (!change && current.shape) return current;
  const after = change ? applyChange(before, change) : before;
  if (!current.shape) {
    const name = messageName(dialect.naming.quote, current.name);
    const missing = current.primaryKey.find((k) => !after.columns.some((c) => c.field === k));
    if (missing) throw new Error(`cannot create table ${name}: primary key field "${missing}" has no value`);
    if (after.columns.length === 0) throw new Error(`table ${name} has no columns: no record had a non-null field`);
    yield* claimName(dialect, conn, current);
    yield* io(ddl.create(conn, current, after));
  } else {
    yield* io(ddl.alter(conn, current, after, change!));
  }
  yield* io(catalog.save(conn, current, after));
  return { ...current, shape: after, generation: current.generation + 1, writer: null };
}
