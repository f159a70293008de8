// What a database must provide to be a destination. The write flow (DialectDestination) is
// written once against these interfaces; each database is a folder implementing them, one file
// per role: driver (connect, transactions, locks), naming and types, DDL, Mako's metadata
// (catalog and checkpoint state), the bulk row path, and introspection. A call may answer at
// once or with a promise (see step.ts).

import type { DataRecord } from "../connectors/base/types";
import type { ColumnType } from "./columnTypes";
import type { ColumnInfo, TableRef } from "./Destination";
import type { MaybePromise } from "./step";
import type { TempTable } from "./tableNames";
import type { ShapeChange, ShapeRules, TableShape } from "./tableShape";

export interface Dialect<C, W> {
  readonly kind: string;
  /** Chunks of one entity written at once (Destination.writeConcurrency). */
  readonly writeConcurrency: number;
  /**
   * "in-chunk": schema changes run inside the chunk's transaction, so a chunk that fails leaves
   * no column behind (one writer: SQLite, DuckDB). "locked": they run first, in a schema section
   * of their own, and commit so that writers on other connections see them (PostgreSQL, MySQL).
   */
  readonly schemaChanges: "in-chunk" | "locked";
  readonly driver: Driver<C>;
  readonly naming: Naming;
  readonly shape: ShapeRules;
  readonly catalog: Catalog<C>;
  readonly state: StateStore<C>;
  readonly ddl: Ddl<C>;
  readonly swap: ShadowSwap<C>;
  readonly rows: RowWriter<C, W>;
  readonly introspect: Introspector<C>;
}

/** A table's name in the database: in a schema (PostgreSQL, DuckDB) or not (SQLite, MySQL). */
export interface PhysicalName {
  schema: string | null;
  name: string;
}

/** An entity's live table, or the shadow a full refresh writes into until it replaces the live one. */
export type TableRole = "live" | "shadow";

/** One table as the flow knows it: resolved from Mako's metadata, cached, handed to the dialect. */
export interface Table<W = unknown> {
  /** The entity whose rows it holds. */
  entity: TableRef;
  role: TableRole;
  /** Its key in Mako's metadata: the entity, or `ENTITY__mako_shadow` for a shadow. */
  ref: TableRef;
  name: PhysicalName;
  /** The key the table was created with (the caller's until it exists). */
  primaryKey: string[];
  /** Null until the table exists. */
  shape: TableShape | null;
  /** Counts schema changes where writers share a database: a cache never goes back to an older shape. */
  generation: number;
  /** The dialect's write state for this shape (prepared statements, a staging table), made at first use. */
  writer: W | null;
}

export interface Driver<C> {
  /** Every call answers at once (better-sqlite3): the flow then runs a whole transaction in one call stack. */
  readonly synchronous: boolean;
  /** Lends `work` a connection and takes it back: a pooled one, or the only one (then calls queue). */
  session<T>(work: (conn: C) => MaybePromise<T>): Promise<T>;
  begin(conn: C): MaybePromise<void>;
  commit(conn: C): MaybePromise<void>;
  /** Never throws: a connection whose rollback failed is marked broken, and not reused. */
  rollback(conn: C): MaybePromise<void>;
  /**
   * Opens a schema section for a data source: schema changes of one namespace are serialised
   * across connections and processes. PostgreSQL: a transaction under an advisory lock; MySQL: a
   * named lock (its DDL commits on its own); a one-writer database: a transaction.
   */
  beginSchema(conn: C, namespace: string): MaybePromise<void>;
  /** Commits (or after a failure rolls back, never throwing) and releases what beginSchema took. */
  endSchema(conn: C, namespace: string, commit: boolean): MaybePromise<void>;
  exec(conn: C, sql: string): MaybePromise<void>;
  /** Whether a failed chunk is worth redoing whole: a deadlock, a schema another writer changed. */
  retryable(conn: C, err: unknown): boolean;
  close(): Promise<void>;
}

export interface Naming {
  /**
   * Every name Mako gives an entity's tables: the live one, its shadow, and the temporary ones
   * made while rebuilding (`rebuild`), swapping (`old`) or keeping a misshapen table aside
   * (`kept_…`). One function, so that the mapping changes in one place; no two entities, and no
   * entity and a temporary table, get one name (tableNames.ts).
   */
  table(entity: TableRef, role: TableRole, temp?: TempTable): PhysicalName;
  quote(identifier: string): string;
}

/** What Mako's metadata records of a table. */
export interface StoredTable {
  primaryKey: string[];
  shape: TableShape;
  generation: number;
  /** The physical name, where the metadata keeps it (SQLite, MySQL, PostgreSQL): a stored table keeps its name. */
  name?: PhysicalName;
}

/** Mako's metadata of the tables it created (`_mako_tables`, `_mako_columns` or `_mako.tables`, `_mako.columns`). */
export interface Catalog<C> {
  /** The table's record; null when Mako has none (the table does not exist). */
  load(conn: C, ref: TableRef, name: PhysicalName): MaybePromise<StoredTable | null>;
  /**
   * Whose table has this name, by its record (null: none): checked before a table is created, so
   * that two entities never share one. Names compare as the database compares them (ignoring
   * case where it folds case).
   */
  ownerOf(conn: C, name: PhysicalName): MaybePromise<TableRef | null>;
  /** Records a new table or its new shape (and bumps its generation). */
  save(conn: C, table: Table, shape: TableShape): MaybePromise<void>;
  forget(conn: C, table: Table): MaybePromise<void>;
  /** The shadow's record becomes the live table's (the live one's is forgotten first). */
  move(conn: C, shadow: Table, live: Table): MaybePromise<void>;
  /** A data source's tables, shadows included, by entity; `name` where the metadata keeps it (else the naming's). */
  list(conn: C, namespace: string): MaybePromise<Array<{ entity: string; name?: PhysicalName }>>;
}

/** The entity's state row as stored: the checkpoint and the chunks committed ahead of it (JSON texts). */
export interface StoredState {
  checkpoint: string | null;
  pending: string | null;
  /** The highest fence a writer took the entity with (stateRow.ts); null until one did. */
  fence: number | null;
}

/** The checkpoint rows (`_mako_state` or `_mako.state`), one per entity. */
export interface StateStore<C> {
  /**
   * Whether the row keeps the chunks committed ahead of an earlier one (`pending`). SQLite's has
   * no such column: its one writer commits chunks in order, and each checkpoint is stored as given.
   */
  readonly keepsPending: boolean;
  read(conn: C, ref: TableRef): MaybePromise<StoredState | null>;
  /** Reads the row inside the caller's transaction, locked (created if missing) until it ends. */
  lock(conn: C, ref: TableRef): MaybePromise<StoredState>;
  /** Writes the row; `at` is the commit's time (SQLite stores it as `updated_at`). */
  save(conn: C, ref: TableRef, state: StoredState, at: string): MaybePromise<void>;
  reset(conn: C, ref: TableRef): MaybePromise<void>;
  /** The entities of a data source that have a state row (a checkpoint, a mark). */
  list(conn: C, namespace: string): MaybePromise<string[]>;
}

export interface Ddl<C> {
  /** CREATE TABLE (and its schema) with the shape's columns, the system columns and the primary key. */
  create(conn: C, table: Table, shape: TableShape): MaybePromise<void>;
  /** Adds the change's columns (and the overflow column) and widens its widened ones. */
  alter(conn: C, table: Table, after: TableShape, change: ShapeChange): MaybePromise<void>;
  /** An empty table defined like another: a full refresh's shadow, like the live table. */
  createLike(conn: C, source: Table, target: Table): MaybePromise<void>;
  drop(conn: C, name: PhysicalName): MaybePromise<void>;
  /** Renames a table within its schema (a table that lost Mako's columns is moved aside). */
  rename(conn: C, from: PhysicalName, to: PhysicalName): MaybePromise<void>;
  /** SQL for a stored value of one type as a wider type (live rows copied into a widened shadow). */
  widenValue(sql: string, from: ColumnType, to: ColumnType): string;
  /** How an UPDATE reads another table: `UPDATE … FROM`, or MySQL's `UPDATE … JOIN`. */
  readonly updateJoin: "from" | "join";
  /**
   * Drops a data source's tables (the ones Mako's records list: live, shadows, temporary ones),
   * Mako's records of them and its checkpoints; a schema of its own goes too once empty.
   */
  dropNamespace(conn: C, namespace: string): MaybePromise<void>;
}

/** How a completed full refresh puts its shadow in the live table's place. */
export type ShadowSwap<C> =
  /** DDL is transactional: drop the live table and rename the shadow in the completion's transaction. */
  | { transactional: true; replace(conn: C, live: Table, shadow: Table): MaybePromise<void> }
  /**
   * DDL commits on its own (MySQL): `mark` records the swap in the completion's transaction;
   * `finish` renames after the commit, and finishes a swap a crash interrupted.
   */
  | { transactional: false; mark(conn: C, live: Table, shadow: Table): MaybePromise<void>; finish(conn: C, entity: TableRef): MaybePromise<void> };

/** The bulk path: a chunk's records into a table, in the caller's transaction. */
export interface RowWriter<C, W> {
  /** The write state for the table's shape (see mergePlan.ts), made once per shape and reused. */
  prepare(conn: C, table: Table<W>, shape: TableShape): MaybePromise<W>;
  /**
   * Upserts the records (deduplicated on the key) under the version guard (rowVersions.ts);
   * `_mako_synced_at` is `syncedAt`. Returns the rows inserted or replaced, as the database
   * counts them: the rows the guard refused are the rest.
   */
  write(conn: C, table: Table<W>, writer: W, records: DataRecord[], syncedAt: string): MaybePromise<number>;
  /** Marks rows not synced since `before` (and not deleted yet) as deleted at `at`, their `_mako_version` kept; how many. */
  markUnseenDeleted(conn: C, table: Table, before: string, at: string): MaybePromise<number>;
}

export interface Introspector<C> {
  /** The table's columns in the database, in order; empty when it does not exist. */
  columns(conn: C, name: PhysicalName): MaybePromise<ColumnInfo[]>;
  count(conn: C, name: PhysicalName): MaybePromise<number>;
  readRows(conn: C, table: Table, options: { limit: number; offset: number }): MaybePromise<DataRecord[]>;
}
