import { type DuckDBAppender, type DuckDBConnection, DuckDBInstance, type DuckDBValue } from "@duckdb/node-api";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { DataRecord } from "../../connectors/base/types";
import { type ChunkProgress, advance, parsePending } from "../chunkCheckpoints";
import { parseCheckpoint } from "../checkpointCodec";
import { type ColumnType, widen } from "../columnTypes";
import {
  DELETED_AT,
  SYNCED_AT,
  type ChunkWrite,
  type Destination,
  type EntityCheckpoint,
  type EntityCompletion,
  type TableInfo,
  type TableRef,
} from "../Destination";
import {
  type Column,
  type ShapeRules,
  type TableShape,
  OVERFLOW,
  applyChange,
  fieldType,
  freeName,
  observeTypes,
  overflowOf,
  planChange,
  type ShapeChange,
} from "../tableShape";
import { fillDeletionsSql, isShadowEntity, shadowBelongsToPass, shadowRef } from "../shadowTable";

/** DuckDB has no hard column limit; past PostgreSQL's, fields go to the JSON `_mako_overflow` too. */
const MAX_DATA_COLUMNS = 1500;

const CHECKPOINT_THRESHOLD = "256MB";

const SQL_TYPE: Record<ColumnType, string> = {
  boolean: "BOOLEAN",
  integer: "BIGINT",
  real: "DOUBLE",
  text: "VARCHAR",
  json: "JSON",
};

const RULES: ShapeRules = {
  maxColumns: MAX_DATA_COLUMNS,
  caseInsensitive: true, // DuckDB matches identifiers case-insensitively, even quoted ones
  keysFirst: true,
  typeOf: fieldType,
  columnName: (field, taken) => freeName(field, taken, { maxNameBytes: 255, caseInsensitive: true }),
  // Casting VARCHAR to JSON parses the text (and fails on plain text), and ALTER … USING a
  // function cannot be replayed from DuckDB 1.5's WAL: a text column keeps receiving JSON text.
  widen: (a, b) => (a === "text" && b === "json" ? "text" : widen(a, b)!),
};

export const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

type Append = (appender: DuckDBAppender, value: unknown) => void;
const APPEND: Record<ColumnType, Append> = {
  boolean: (a, v) => (v == null ? a.appendNull() : a.appendBoolean(v as boolean)),
  integer: (a, v) =>
    v == null
      ? a.appendNull()
      : typeof v === "bigint"
        ? a.appendBigInt(v)
        : a.appendBigInt(BigInt(typeof v === "boolean" ? (v ? 1 : 0) : (v as number))),
  real: (a, v) =>
    v == null ? a.appendNull() : a.appendDouble(typeof v === "boolean" ? (v ? 1 : 0) : Number(v)),
  text: (a, v) =>
    v == null
      ? a.appendNull()
      : a.appendVarchar(
          typeof v === "string" ? v : v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v),
        ),
  json: (a, v) => (v == null ? a.appendNull() : a.appendVarchar(JSON.stringify(v))),
};

interface Writer {
  shape: TableShape;
  byField: Map<string, Column>;
  append: Append[];
  fields: string[];
  staging: string;
  merge: string;
}

interface DuckTable {
  ref: TableRef;
  qualified: string;
  primaryKey: string[];
  shape: TableShape | null;
  writer: Writer | null;
}

let stagingIds = 0;

/**
 * DuckDB destination: schema per data source, table per entity. Each chunk is appended to a
 * temporary staging table and merged with INSERT … ON CONFLICT DO UPDATE, in one transaction
 * with the entity's checkpoint (schema `_mako`, table `state`). DuckDB has one writer per
 * file, so chunks are written one at a time.
 */
export class DuckdbDestination implements Destination {
  readonly kind = "duckdb";
  readonly writeConcurrency = 1;
  private readonly tables = new Map<string, DuckTable>();
  private queue: Promise<unknown> = Promise.resolve();
  /** `key(shadow)\0passStartedAt` of the full-refresh passes whose shadow is ready. */
  private readonly shadowsReady = new Set<string>();

  static async open(path: string): Promise<DuckdbDestination> {
    let instance: DuckDBInstance;
    try {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      instance = await DuckDBInstance.create(path);
    } catch (err) {
      throw new Error(`cannot open DuckDB database ${path}: ${err.message}`);
    }
    const connection = await instance.connect();
    // Each chunk commits; with the default 16 MB threshold every few chunks would checkpoint,
    // rewriting the primary-key index each time. The WAL holds the commits durably meanwhile.
    await connection.run(`SET checkpoint_threshold = '${CHECKPOINT_THRESHOLD}'`);
    await connection.run(`
      CREATE SCHEMA IF NOT EXISTS _mako;
      CREATE TABLE IF NOT EXISTS _mako.state (
        namespace VARCHAR NOT NULL, entity VARCHAR NOT NULL, checkpoint VARCHAR, pending VARCHAR, updated_at TIMESTAMPTZ,
        PRIMARY KEY (namespace, entity));
      CREATE TABLE IF NOT EXISTS _mako.tables (
        namespace VARCHAR NOT NULL, entity VARCHAR NOT NULL, primary_key VARCHAR NOT NULL,
        overflow BOOLEAN NOT NULL, PRIMARY KEY (namespace, entity));
      CREATE TABLE IF NOT EXISTS _mako.columns (
        namespace VARCHAR NOT NULL, entity VARCHAR NOT NULL, field VARCHAR NOT NULL, column_name VARCHAR NOT NULL,
        type VARCHAR NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (namespace, entity, field));`);
    return new DuckdbDestination(instance, connection);
  }

  private constructor(
    readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
  ) {}

  /** One connection, one transaction at a time: calls are queued. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => {});
    return run;
  }

  private async transaction<T>(work: () => Promise<T>, onError?: () => void): Promise<T> {
    await this.connection.run("BEGIN TRANSACTION");
    try {
      const result = await work();
      await this.connection.run("COMMIT");
      return result;
    } catch (err) {
      await this.connection.run("ROLLBACK").catch(() => {});
      onError?.();
      throw err;
    }
  }

  // --- checkpoints ----------------------------------------------------------------------

  loadCheckpoint(ref: TableRef): Promise<EntityCheckpoint | null> {
    return this.serial(async () => {
      const text = await this.storedCheckpoint(ref);
      return text ? parseCheckpoint(text, ref) : null;
    });
  }

  private async storedCheckpoint(ref: TableRef): Promise<string | null> {
    const reader = await this.connection.runAndReadAll(`SELECT checkpoint FROM _mako.state WHERE namespace = $1 AND entity = $2`, [
      ref.namespace,
      ref.entity,
    ]);
    return (reader.getRows()[0]?.[0] as string | null | undefined) ?? null;
  }

  private async storedProgress(ref: TableRef): Promise<ChunkProgress> {
    const reader = await this.connection.runAndReadAll(`SELECT checkpoint, pending FROM _mako.state WHERE namespace = $1 AND entity = $2`, [
      ref.namespace,
      ref.entity,
    ]);
    const [checkpoint, pending] = (reader.getRows()[0] ?? [null, null]) as [string | null, string | null];
    return { checkpoint: checkpoint ? safeParse(checkpoint, ref) : null, pending: parsePending(pending) };
  }

  resetCheckpoint(ref: TableRef): Promise<void> {
    return this.serial(async () => {
      await this.connection.run(`DELETE FROM _mako.state WHERE namespace = $1 AND entity = $2`, [ref.namespace, ref.entity]);
    });
  }

  private async saveCheckpoint(ref: TableRef, progress: ChunkProgress): Promise<void> {
    await this.connection.run(
      `INSERT INTO _mako.state (namespace, entity, checkpoint, pending, updated_at) VALUES ($1, $2, $3, $4, now())
       ON CONFLICT (namespace, entity) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, pending = EXCLUDED.pending,
         updated_at = EXCLUDED.updated_at`,
      [ref.namespace, ref.entity, progress.checkpoint && JSON.stringify(progress.checkpoint), progress.pending && JSON.stringify(progress.pending)],
    );
  }

  // --- rows -----------------------------------------------------------------------------

  writeChunk(write: ChunkWrite): Promise<void> {
    const observed = observeTypes(write.records, fieldType);
    const fullRefresh = write.checkpoint.mode === "full_refresh";
    return this.serial(async () => {
      const table = await this.table(fullRefresh ? shadowRef(write.table) : write.table, write.primaryKey);
      await this.transaction(
        async () => {
          if (fullRefresh) await this.prepareShadow(write.table, table, write.checkpoint);
          const change = planChange(table.shape ?? { columns: [], overflow: false }, observed, RULES, table.primaryKey);
          if (change) await this.evolve(table, applyChange(table.shape ?? { columns: [], overflow: false }, change), change);
          if (write.records.length > 0) await this.merge(table, write.records, write.syncedAt);
          // The engine sends one chunk at a time here, but a caller that does not still gets
          // only a checkpoint whose earlier chunks all committed.
          await this.saveCheckpoint(write.table, advance(await this.storedProgress(write.table), write.checkpoint));
        },
        () => {
          // DDL rolled back too: read the schema again
          this.tables.delete(key(table.ref));
          this.shadowsReady.clear();
        },
      );
    });
  }

  private async merge(table: DuckTable, records: DataRecord[], syncedAt: string): Promise<void> {
    if (!table.shape) throw new Error(`table ${table.qualified} has no columns: no record had a non-null field`);
    const writer = (table.writer ??= await this.makeWriter(table, table.shape));
    const { fields, append, byField } = writer;
    const n = fields.length;
    const overflow = writer.shape.overflow;
    const appender = await this.connection.createAppender(writer.staging, "main", "temp");
    try {
      for (const record of records) {
        for (let j = 0; j < n; j++) append[j](appender, record[fields[j]]);
        const deleted = record[DELETED_AT];
        if (deleted == null) appender.appendNull();
        else appender.appendVarchar(deleted instanceof Date ? deleted.toISOString() : String(deleted));
        if (overflow) {
          const extra = overflowOf(record, byField);
          if (extra === null) appender.appendNull();
          else appender.appendVarchar(extra);
        }
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    await this.connection.run(writer.merge, [syncedAt]);
    await this.connection.run(`DELETE FROM temp.main.${quote(writer.staging)}`);
  }

  /** A staging table shaped like the target (deletion time as text, cast in the merge). */
  private async makeWriter(table: DuckTable, shape: TableShape): Promise<Writer> {
    const staging = `_mako_stage_${++stagingIds}`;
    const defs = shape.columns.map((c) => `${quote(c.name)} ${SQL_TYPE[c.type]}`);
    defs.push(`${quote(DELETED_AT)} VARCHAR`); // _mako_synced_at is the chunk's: a parameter of the merge
    if (shape.overflow) defs.push(`${quote(OVERFLOW)} JSON`);
    await this.connection.run(`CREATE OR REPLACE TEMP TABLE ${quote(staging)} (${defs.join(", ")})`);
    const names = shape.columns.map((c) => c.name);
    names.push(SYNCED_AT, DELETED_AT);
    if (shape.overflow) names.push(OVERFLOW);
    const byField = new Map(shape.columns.map((c) => [c.field, c]));
    const keys = new Set(table.primaryKey.map((k) => byField.get(k)!.name));
    const select = names.map((n) =>
      n === SYNCED_AT ? "CAST($1 AS TIMESTAMPTZ)" : n === DELETED_AT ? `CAST(${quote(n)} AS TIMESTAMPTZ)` : quote(n),
    );
    const updates = names.filter((n) => !keys.has(n)).map((n) => `${quote(n)} = EXCLUDED.${quote(n)}`);
    return {
      shape,
      byField,
      append: shape.columns.map((c) => APPEND[c.type]),
      fields: shape.columns.map((c) => c.field),
      staging,
      merge:
        `INSERT INTO ${table.qualified} (${names.map(quote).join(", ")}) SELECT ${select.join(", ")} FROM temp.main.${quote(staging)} ` +
        `ON CONFLICT (${[...keys].map(quote).join(", ")}) DO UPDATE SET ${updates.join(", ")}`,
    };
  }

  completeEntity(c: EntityCompletion): Promise<{ deleted: number }> {
    return this.serial(async () => {
      const shadow = c.checkpoint.mode === "full_refresh" ? await this.table(shadowRef(c.table), c.primaryKey) : null;
      if (shadow && (await this.shadowIsOfPass(c.table, shadow, c.checkpoint))) return this.swapShadow(c, shadow);
      const table = await this.table(c.table, c.primaryKey);
      return this.transaction(async () => {
        let deleted = 0;
        // A pass that wrote no chunk has no shadow; one left by an abandoned pass goes.
        if (shadow?.shape) await this.dropTable(shadow);
        if (c.markUnseenDeletedBefore && table.shape) {
          const result = await this.connection.run(
            `UPDATE ${table.qualified} SET ${quote(DELETED_AT)} = CAST($1 AS TIMESTAMPTZ)
             WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < CAST($2 AS TIMESTAMPTZ)`,
            [c.deletedAt, c.markUnseenDeletedBefore],
          );
          deleted = result.rowsChanged;
        }
        await this.saveCheckpoint(c.table, { checkpoint: c.checkpoint, pending: null });
        return { deleted };
      }, () => shadow && this.tables.delete(key(shadow.ref)));
    });
  }

  // --- full refresh: shadow table ----------------------------------------------------------

  /**
   * At a full-refresh pass's first chunk in this process, inside its transaction: a shadow left
   * by another pass is dropped; the shadow starts with the live table's columns. A resumed pass
   * keeps writing into its own shadow.
   */
  private async prepareShadow(live: TableRef, shadow: DuckTable, pass: EntityCheckpoint): Promise<void> {
    const ready = `${key(shadow.ref)}\u0000${pass.passStartedAt}`;
    if (this.shadowsReady.has(ready)) return;
    if (!(await this.shadowIsOfPass(live, shadow, pass))) {
      await this.dropTable(shadow);
      const source = await this.table(live, shadow.primaryKey);
      if (source.shape) {
        // Created from the live shape: every live column is "added" to the empty shadow.
        const change: ShapeChange = { added: source.shape.columns, widened: [], overflowOn: source.shape.overflow };
        await this.evolve(shadow, source.shape, change);
      }
    }
    this.shadowsReady.add(ready); // forgotten if the chunk's transaction rolls back
  }

  private async shadowIsOfPass(live: TableRef, shadow: DuckTable, pass: EntityCheckpoint): Promise<boolean> {
    if (!shadow.shape) return false;
    if (this.shadowsReady.has(`${key(shadow.ref)}\u0000${pass.passStartedAt}`)) return true;
    const stored = await this.storedCheckpoint(live);
    return shadowBelongsToPass(stored ? safeParse(stored, live) : null, pass);
  }

  private async dropTable(table: DuckTable): Promise<void> {
    await this.connection.run(`DROP TABLE IF EXISTS ${table.qualified}`);
    for (const t of ["tables", "columns"]) {
      await this.connection.run(`DELETE FROM _mako.${t} WHERE namespace = $1 AND entity = $2`, [table.ref.namespace, table.ref.entity]);
    }
    table.shape = null;
    table.writer = null;
  }

  /**
   * Completes a full refresh in one transaction: the live rows the pass did not see are copied
   * into the shadow (kept, marked deleted), the shadow replaces the live table, and the final
   * checkpoint is saved.
   */
  private async swapShadow(c: EntityCompletion, shadow: DuckTable): Promise<{ deleted: number }> {
    const live = await this.table(c.table, c.primaryKey);
    const shadowShape = shadow.shape!;
    try {
      return await this.transaction(async () => {
        let deleted = 0;
        if (live.shape) {
          // The shadow began with the live columns and only grew or widened since.
          const shadowCols = new Map(shadowShape.columns.map((col) => [col.field, col]));
          const pairs = live.shape.columns.map((col) => {
            const target = shadowCols.get(col.field)!;
            const value = `l.${quote(col.name)}`;
            return [quote(target.name), col.type === target.type ? value : `CAST(${value} AS ${SQL_TYPE[target.type]})`];
          });
          const keyColumns = new Set(shadow.primaryKey.map((k) => quote(shadowCols.get(k)!.name)));
          const fill = pairs.filter(([column]) => !keyColumns.has(column));
          pairs.push([quote(SYNCED_AT), `l.${quote(SYNCED_AT)}`], [quote(DELETED_AT), `l.${quote(DELETED_AT)}`]);
          if (live.shape.overflow && shadowShape.overflow) {
            pairs.push([quote(OVERFLOW), `l.${quote(OVERFLOW)}`]);
            fill.push([quote(OVERFLOW), `l.${quote(OVERFLOW)}`]);
          }
          const liveCols = new Map(live.shape.columns.map((col) => [col.field, col]));
          const match = shadow.primaryKey
            .map((k) => `s.${quote(shadowCols.get(k)!.name)} = l.${quote(liveCols.get(k)!.name)}`)
            .join(" AND ");
          const filling = fillDeletionsSql("from", shadow.qualified, live.qualified, fill, match, quote(DELETED_AT));
          if (filling) await this.connection.run(filling);
          await this.connection.run(
            `INSERT INTO ${shadow.qualified} (${pairs.map((p) => p[0]).join(", ")})
             SELECT ${pairs.map((p) => p[1]).join(", ")} FROM ${live.qualified} AS l
             WHERE NOT EXISTS (SELECT 1 FROM ${shadow.qualified} AS s WHERE ${match})`,
          );
        }
        if (c.markUnseenDeletedBefore) {
          const result = await this.connection.run(
            `UPDATE ${shadow.qualified} SET ${quote(DELETED_AT)} = CAST($1 AS TIMESTAMPTZ)
             WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < CAST($2 AS TIMESTAMPTZ)`,
            [c.deletedAt, c.markUnseenDeletedBefore],
          );
          deleted = result.rowsChanged;
        }
        await this.dropTable(live);
        await this.connection.run(`ALTER TABLE ${shadow.qualified} RENAME TO ${quote(c.table.entity)}`);
        for (const t of ["tables", "columns"]) {
          await this.connection.run(`UPDATE _mako.${t} SET entity = $2 WHERE namespace = $1 AND entity = $3`, [
            c.table.namespace,
            c.table.entity,
            shadow.ref.entity,
          ]);
        }
        await this.saveCheckpoint(c.table, { checkpoint: c.checkpoint, pending: null });
        return { deleted };
      });
    } finally {
      this.tables.delete(key(c.table));
      this.tables.delete(key(shadow.ref));
    }
  }

  // --- schema ---------------------------------------------------------------------------

  private async table(ref: TableRef, primaryKey: string[]): Promise<DuckTable> {
    const cached = this.tables.get(key(ref));
    if (cached) return cached;
    const meta = (
      await this.connection.runAndReadAll(`SELECT primary_key, overflow FROM _mako.tables WHERE namespace = $1 AND entity = $2`, [
        ref.namespace,
        ref.entity,
      ])
    ).getRows()[0];
    let shape: TableShape | null = null;
    if (meta) {
      const cols = await this.connection.runAndReadAll(
        `SELECT field, column_name, type FROM _mako.columns WHERE namespace = $1 AND entity = $2 ORDER BY position`,
        [ref.namespace, ref.entity],
      );
      shape = {
        columns: cols.getRows().map(([field, name, type]) => ({ field: field as string, name: name as string, type: type as ColumnType })),
        overflow: meta[1] as boolean,
      };
      primaryKey = JSON.parse(meta[0] as string);
    }
    const table: DuckTable = { ref, qualified: `${quote(ref.namespace)}.${quote(ref.entity)}`, primaryKey, shape, writer: null };
    this.tables.set(key(ref), table);
    return table;
  }

  /** Creates, extends or widens the table inside the chunk's transaction. */
  private async evolve(table: DuckTable, after: TableShape, change: ReturnType<typeof planChange> & object): Promise<void> {
    if (!table.shape) {
      const missing = table.primaryKey.find((k) => !after.columns.some((c) => c.field === k));
      if (missing) throw new Error(`cannot create table ${table.qualified}: primary key field "${missing}" has no value`);
      await this.connection.run(`CREATE SCHEMA IF NOT EXISTS ${quote(table.ref.namespace)}`);
      await this.connection.run(`CREATE TABLE ${table.qualified} (${columnDefs(table.primaryKey, after)})`);
    } else {
      // DuckDB takes one action per ALTER TABLE.
      for (const c of change.added) await this.connection.run(`ALTER TABLE ${table.qualified} ADD COLUMN ${quote(c.name)} ${SQL_TYPE[c.type]}`);
      for (const c of change.widened) {
        await this.connection.run(`ALTER TABLE ${table.qualified} ALTER COLUMN ${quote(c.name)} TYPE ${SQL_TYPE[c.type]}`);
      }
      if (change.overflowOn) await this.connection.run(`ALTER TABLE ${table.qualified} ADD COLUMN ${quote(OVERFLOW)} JSON`);
    }
    const { namespace, entity } = table.ref;
    await this.connection.run(
      `INSERT INTO _mako.tables VALUES ($1, $2, $3, $4) ON CONFLICT (namespace, entity) DO UPDATE SET overflow = EXCLUDED.overflow`,
      [namespace, entity, JSON.stringify(table.primaryKey), after.overflow],
    );
    await this.connection.run(`DELETE FROM _mako.columns WHERE namespace = $1 AND entity = $2`, [namespace, entity]);
    const appender = await this.connection.createAppender("columns", "_mako");
    after.columns.forEach((c, i) => {
      appender.appendVarchar(namespace);
      appender.appendVarchar(entity);
      appender.appendVarchar(c.field);
      appender.appendVarchar(c.name);
      appender.appendVarchar(c.type);
      appender.appendInteger(i);
      appender.endRow();
    });
    appender.closeSync();
    table.shape = after;
    table.writer = null;
  }

  // --- reading --------------------------------------------------------------------------

  listTables(namespace: string): Promise<TableInfo[]> {
    return this.serial(async () => {
      const entities = (
        await this.connection.runAndReadAll(`SELECT entity FROM _mako.tables WHERE namespace = $1 ORDER BY entity`, [namespace])
      ).getRows();
      const out: TableInfo[] = [];
      for (const [entity] of entities) {
        if (isShadowEntity(entity as string)) continue;
        const columns = await this.connection.runAndReadAll(
          `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
          [namespace, entity as string],
        );
        const count = await this.connection.runAndReadAll(`SELECT count(*) FROM ${quote(namespace)}.${quote(entity as string)}`);
        out.push({
          entity: entity as string,
          table: `${namespace}.${entity}`,
          rows: Number(count.getRows()[0][0]),
          columns: columns.getRows().map(([name, type]) => ({ name: name as string, type: type as string })),
        });
      }
      return out;
    });
  }

  readRows(ref: TableRef, options: { limit: number; offset: number }): Promise<DataRecord[]> {
    return this.serial(async () => {
      const table = await this.table(ref, ["id"]);
      if (!table.shape) {
        this.tables.delete(key(ref));
        return [];
      }
      const json = new Set(table.shape.columns.filter((c) => c.type === "json").map((c) => c.name));
      if (table.shape.overflow) json.add(OVERFLOW);
      const byField = new Map(table.shape.columns.map((c) => [c.field, c.name]));
      const order = table.primaryKey.map((k) => quote(byField.get(k) ?? k)).join(", ");
      const reader = await this.connection.runAndReadAll(`SELECT * FROM ${table.qualified} ORDER BY ${order} LIMIT $1 OFFSET $2`, [
        options.limit,
        options.offset,
      ]);
      const names = reader.columnNames();
      return reader.getRows().map((row) => {
        const record: DataRecord = {};
        row.forEach((v, i) => (record[names[i]] = fromDuck(v, json.has(names[i]))));
        return record;
      });
    });
  }

  /** Drops a data source's schema and Mako's bookkeeping of it (tests and benchmarks). */
  dropNamespace(namespace: string): Promise<void> {
    return this.serial(async () => {
      await this.connection.run(`DROP SCHEMA IF EXISTS ${quote(namespace)} CASCADE`);
      for (const t of ["tables", "columns", "state"]) await this.connection.run(`DELETE FROM _mako.${t} WHERE namespace = $1`, [namespace]);
      for (const k of this.tables.keys()) if (k.startsWith(`${namespace}\u0000`)) this.tables.delete(k);
    });
  }

  test(): Promise<void> {
    return this.serial(async () => {
      await this.connection.run("SELECT 1");
    });
  }

  close(): Promise<void> {
    return this.serial(async () => {
      this.connection.closeSync();
      this.instance.closeSync();
    });
  }
}

const key = (ref: TableRef) => `${ref.namespace}\u0000${ref.entity}`;

function safeParse(text: string, ref: TableRef): EntityCheckpoint | null {
  try {
    return parseCheckpoint(text, ref);
  } catch {
    return null;
  }
}

function columnDefs(primaryKey: string[], shape: TableShape): string {
  const defs = shape.columns.map((c) => `${quote(c.name)} ${SQL_TYPE[c.type]}${primaryKey.includes(c.field) ? " NOT NULL" : ""}`);
  defs.push(`${quote(SYNCED_AT)} TIMESTAMPTZ NOT NULL`, `${quote(DELETED_AT)} TIMESTAMPTZ`);
  if (shape.overflow) defs.push(`${quote(OVERFLOW)} JSON`);
  const keys = primaryKey.map((k) => quote(shape.columns.find((c) => c.field === k)!.name));
  defs.push(`PRIMARY KEY (${keys.join(", ")})`);
  return defs.join(", ");
}

/** DuckDB values as plain JS: BIGINT as a number when exact, JSON parsed, timestamps as text. */
function fromDuck(value: DuckDBValue, json: boolean): unknown {
  if (value === null) return null;
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
  if (json && typeof value === "string") return JSON.parse(value);
  if (typeof value === "object") return String(value);
  return value;
}
