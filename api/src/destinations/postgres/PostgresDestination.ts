import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { DataRecord } from "../../connectors/base/types";
import { type ChunkProgress, advance, parsePending } from "../chunkCheckpoints";
import { parseCheckpoint } from "../checkpointCodec";
import type { ColumnType } from "../columnTypes";
import { widen } from "../columnTypes";
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
  replaceNul,
  truncateBytes,
} from "../tableShape";
import { SHADOW_SUFFIX, fillDeletionsSql, isShadowEntity, shadowBelongsToPass, shadowRef } from "../shadowTable";

/**
 * PostgreSQL allows 1,600 columns, but a row must also fit in one 8 kB page: 800 data columns
 * leave room for values of ~10 bytes on average. Further fields go to the jsonb `_mako_overflow`.
 */
const MAX_DATA_COLUMNS = 800;
/** Identifiers longer than this are truncated by PostgreSQL; Mako names columns within it. */
const MAX_NAME_BYTES = 63;
/** Rows per multi-row upsert: the measurements put the sweet spot near 1,000. */
const ROWS_PER_STATEMENT = 1000;
/** The protocol's limit on bind parameters per statement. */
const MAX_PARAMS = 65_535;
/** Two connections keep client and server both busy on 2 cores; a third adds little. */
const DEFAULT_CONNECTIONS = 2;
/** Attempts of a chunk transaction that failed on a deadlock or a schema changed under it. */
const MAX_ATTEMPTS = 3;

const SQL_TYPE: Record<ColumnType, string> = {
  boolean: "boolean",
  integer: "bigint",
  real: "double precision",
  text: "text",
  json: "jsonb",
};

const RULES: ShapeRules = {
  maxColumns: MAX_DATA_COLUMNS,
  caseInsensitive: false,
  keysFirst: true,
  typeOf: fieldType,
  columnName: (field, taken) => freeName(field, taken, { maxNameBytes: MAX_NAME_BYTES, caseInsensitive: false }),
  widen: (a, b) => widen(a, b)!,
};

export const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/** Schema NAME, table ENTITY (each cut to PostgreSQL's 63-byte identifiers). */
export function postgresTableName(ref: TableRef): { schema: string; table: string } {
  // A shadow's name keeps its suffix even when the entity's name is cut, so it never is the live table's.
  const table = isShadowEntity(ref.entity)
    ? truncateBytes(ref.entity.slice(0, -SHADOW_SUFFIX.length), MAX_NAME_BYTES - SHADOW_SUFFIX.length) + SHADOW_SUFFIX
    : truncateBytes(ref.entity, MAX_NAME_BYTES);
  return { schema: truncateBytes(ref.namespace, MAX_NAME_BYTES), table };
}

type Converter = (value: unknown) => unknown;

// `\u0000` and lone surrogates are escapes jsonb rejects; paired surrogates JSON.stringify leaves raw.
const JSON_BAD_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/g;
const toJson = (v: unknown): string | null => {
  if (v == null) return null;
  const json = JSON.stringify(v);
  return json.includes("\\u") ? json.replace(JSON_BAD_ESCAPE, "$1\\ufffd") : json;
};
const CONVERT: Record<ColumnType, Converter> = {
  boolean: (v) => v ?? null,
  integer: (v) => (typeof v === "boolean" ? (v ? 1 : 0) : v ?? null),
  real: (v) => (typeof v === "boolean" ? (v ? 1 : 0) : v ?? null),
  text: (v) =>
    typeof v === "string"
      ? replaceNul(v)
      : v == null
        ? null
        : v instanceof Date
          ? v.toISOString()
          : typeof v === "object"
            ? JSON.stringify(v) // NULs inside are escaped as the six characters \u0000
            : String(v),
  json: toJson,
};

/** SQL converting a column to a wider type in ALTER TABLE … USING. */
function widenUsing(column: string, from: ColumnType, to: ColumnType): string {
  if (to === "json") return `to_jsonb(${column})`;
  if (from === "boolean" && to !== "text") return `${column}::int::${SQL_TYPE[to]}`;
  return `${column}::${SQL_TYPE[to]}`;
}

/** Upsert statements for one set of columns, prepared once per connection and reused. */
interface Writer {
  id: number;
  shape: TableShape;
  copyText: Array<(v: unknown) => string>;
  /** The quoted column list, data columns then system columns. */
  names: string;
  merge(staging: string): string;
  byField: Map<string, Column>;
  convert: Converter[];
  fields: string[];
  width: number;
  rowsPerStatement: number;
  statements: Map<number, { name: string; text: string }>;
}

interface PgTable {
  ref: TableRef;
  schema: string;
  table: string;
  qualified: string;
  primaryKey: string[];
  /** Null until the table exists. */
  shape: TableShape | null;
  generation: number;
  writer: Writer | null;
}

let statementIds = 0;

/**
 * PostgreSQL destination: schema per data source, table per entity, each chunk COPYed into a
 * staging table and merged (or upserted 1,000 rows per prepared multi-row statement), and
 * chunks written on two connections at once. Each chunk's rows and
 * the entity's checkpoint (schema `_mako`, table `state`) commit in one transaction.
 */
export class PostgresDestination implements Destination {
  readonly kind = "postgres";
  readonly writeConcurrency: number;
  private readonly tables = new Map<string, Promise<PgTable>>();
  /** Full-refresh passes whose shadow table is ready, by `key(shadow)\0passStartedAt`. */
  private readonly shadowsReady = new Map<string, Promise<void>>();

  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresDestination> {
    const connections = options.connections ?? DEFAULT_CONNECTIONS;
    const pool = new pg.Pool({ connectionString: url, max: connections, types: { getTypeParser } });
    pool.on("error", () => {}); // an idle client's dropped connection surfaces on the next query
    const destination = new PostgresDestination(pool, connections, options.bulk ?? DEFAULT_BULK);
    try {
      await destination.setup();
    } catch (err) {
      await pool.end().catch(() => {});
      throw new Error(`cannot open PostgreSQL destination ${redact(url)}: ${err.message}`);
    }
    return destination;
  }

  private constructor(
    readonly pool: pg.Pool,
    connections: number,
    readonly bulk: BulkMethod,
  ) {
    this.writeConcurrency = connections;
  }

  private async setup(): Promise<void> {
    await this.transaction(async (client) => {
      // Two processes opening a fresh database at once would race on CREATE SCHEMA.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('mako:setup'))`);
      await client.query(`
        CREATE SCHEMA IF NOT EXISTS _mako;
        CREATE TABLE IF NOT EXISTS _mako.state (
          namespace text NOT NULL, entity text NOT NULL, checkpoint text, pending text,
          updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (namespace, entity));
        CREATE TABLE IF NOT EXISTS _mako.tables (
          namespace text NOT NULL, entity text NOT NULL, primary_key text NOT NULL,
          overflow boolean NOT NULL DEFAULT false, generation integer NOT NULL DEFAULT 0,
          PRIMARY KEY (namespace, entity));
        CREATE TABLE IF NOT EXISTS _mako.columns (
          namespace text NOT NULL, entity text NOT NULL, field text NOT NULL, column_name text NOT NULL,
          type text NOT NULL, position integer NOT NULL, PRIMARY KEY (namespace, entity, field));`);
    });
  }

  // --- checkpoints ----------------------------------------------------------------------

  async loadCheckpoint(ref: TableRef): Promise<EntityCheckpoint | null> {
    const { rows } = await this.pool.query<{ checkpoint: string | null }>(
      `SELECT checkpoint FROM _mako.state WHERE namespace = $1 AND entity = $2`,
      [ref.namespace, ref.entity],
    );
    const text = rows[0]?.checkpoint;
    return text ? parseCheckpoint(text, ref) : null;
  }

  async resetCheckpoint(ref: TableRef): Promise<void> {
    await this.pool.query(`DELETE FROM _mako.state WHERE namespace = $1 AND entity = $2`, [ref.namespace, ref.entity]);
  }

  /** Locks the entity's state row (creating it), advances it past `checkpoint`, writes it back. */
  private async saveCheckpoint(client: pg.PoolClient, ref: TableRef, checkpoint: EntityCheckpoint): Promise<void> {
    const { rows } = await client.query<{ checkpoint: string | null; pending: string | null }>(
      `INSERT INTO _mako.state (namespace, entity) VALUES ($1, $2)
       ON CONFLICT (namespace, entity) DO UPDATE SET updated_at = now()
       RETURNING checkpoint, pending`,
      [ref.namespace, ref.entity],
    );
    const stored: ChunkProgress = { checkpoint: readCheckpoint(rows[0].checkpoint, ref), pending: parsePending(rows[0].pending) };
    const next = advance(stored, checkpoint);
    await client.query(`UPDATE _mako.state SET checkpoint = $3, pending = $4 WHERE namespace = $1 AND entity = $2`, [
      ref.namespace,
      ref.entity,
      next.checkpoint && JSON.stringify(next.checkpoint),
      next.pending && JSON.stringify(next.pending),
    ]);
  }

  // --- rows -----------------------------------------------------------------------------

  async writeChunk(write: ChunkWrite): Promise<void> {
    const live = write.table;
    if (write.checkpoint.mode === "full_refresh") {
      await this.prepareShadow(live, write.checkpoint);
      write = { ...write, table: shadowRef(live) };
    }
    const observed = observeTypes(write.records, fieldType);
    const client = await this.pool.connect();
    let broken = false;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          let table = await this.table(write.table, write.primaryKey, client);
          if (planChange(table.shape ?? { columns: [], overflow: false }, observed, RULES, table.primaryKey)) {
            await this.evolve(client, table, observed);
            table = await this.table(write.table, write.primaryKey, client);
          }
          await client.query("BEGIN");
          try {
            if (write.records.length > 0) {
              if (this.bulk === "copy") await this.copyMerge(client, table, write.records, write.syncedAt);
              else await this.upsert(client, table, write.records, write.syncedAt);
            }
            await this.saveCheckpoint(client, live, write.checkpoint);
            await client.query("COMMIT");
          } catch (err) {
            await client.query("ROLLBACK").catch(() => {
              broken = true;
            });
            throw err;
          }
          return;
        } catch (err) {
          if (broken || attempt >= MAX_ATTEMPTS || !RETRYABLE.has(err.code)) throw err;
          // A deadlock with the other connection, or a schema another writer changed: read the
          // schema again and redo the whole transaction.
          this.tables.delete(key(write.table));
        }
      }
    } finally {
      client.release(broken);
    }
  }

  private async upsert(client: pg.PoolClient, table: PgTable, records: DataRecord[], syncedAt: string): Promise<void> {
    if (!table.shape) throw new Error(`table ${table.qualified} has no columns: no record had a non-null field`);
    const writer = (table.writer ??= makeWriter(table, table.shape));
    const { fields, convert, width, byField } = writer;
    const n = fields.length;
    const overflow = writer.shape.overflow;
    for (let start = 0; start < records.length; start += writer.rowsPerStatement) {
      const end = Math.min(records.length, start + writer.rowsPerStatement);
      const rows = end - start;
      const values: unknown[] = new Array(rows * width);
      let p = 0;
      for (let r = start; r < end; r++) {
        const record = records[r];
        for (let j = 0; j < n; j++) values[p++] = convert[j](record[fields[j]]);
        values[p++] = syncedAt;
        values[p++] = record[DELETED_AT] ?? null;
        if (overflow) values[p++] = overflowText(record, byField);
      }
      const statement = statementFor(table, writer, rows);
      // Full-size statements are prepared once per connection; a chunk's remainder is not worth it.
      await client.query(
        rows === writer.rowsPerStatement ? { name: statement.name, text: statement.text, values } : { text: statement.text, values },
      );
    }
  }

  /**
   * COPY the chunk into a temporary staging table (emptied at commit), then merge it with one
   * INSERT … SELECT … ON CONFLICT DO UPDATE.
   */
  private async copyMerge(client: pg.PoolClient, table: PgTable, records: DataRecord[], syncedAt: string): Promise<void> {
    if (!table.shape) throw new Error(`table ${table.qualified} has no columns: no record had a non-null field`);
    const writer = (table.writer ??= makeWriter(table, table.shape));
    const { fields, byField } = writer;
    const copyText = writer.copyText;
    const n = fields.length;
    const overflow = writer.shape.overflow;
    const synced = `\t${syncedAt}\t`;
    const staging = quote(`_mako_stage_${writer.id}`);
    await client.query(
      `CREATE TEMP TABLE IF NOT EXISTS ${staging} (LIKE ${table.qualified} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`,
    );
    const stream = client.query(copyFrom(`COPY ${staging} (${writer.names}) FROM STDIN`));
    const done = new Promise<void>((resolve, reject) => {
      stream.on("finish", resolve);
      stream.on("error", reject);
    });
    // Batches of ~1,000 lines per write: few stream calls, bounded strings.
    let batch = "";
    for (let r = 0; r < records.length; r++) {
      const record = records[r];
      let line = copyText[0](record[fields[0]]);
      for (let j = 1; j < n; j++) line += "\t" + copyText[j](record[fields[j]]);
      const deleted = record[DELETED_AT];
      line += synced + (deleted == null ? "\\N" : copyEscape(deleted instanceof Date ? deleted.toISOString() : String(deleted)));
      if (overflow) line += "\t" + nullable(overflowText(record, byField));
      batch += line + "\n";
      if ((r & 1023) === 1023) {
        // A failing COPY never drains: wait for whichever comes first.
        if (!stream.write(batch)) await Promise.race([new Promise((resolve) => stream.once("drain", resolve)), done]);
        batch = "";
      }
    }
    stream.end(batch);
    await done;
    await client.query(writer.merge(staging));
  }

  async completeEntity(c: EntityCompletion): Promise<{ deleted: number }> {
    if (c.checkpoint.mode === "full_refresh") {
      const swapped = await this.swapShadow(c);
      if (swapped) return swapped;
    }
    const table = await this.table(c.table, c.primaryKey);
    return this.transaction(async (client) => {
      let deleted = 0;
      if (c.markUnseenDeletedBefore && table.shape) {
        const result = await client.query(
          `UPDATE ${table.qualified} SET ${quote(DELETED_AT)} = $1
           WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < $2`,
          [c.deletedAt, c.markUnseenDeletedBefore],
        );
        deleted = result.rowCount ?? 0;
      }
      await client.query(
        `INSERT INTO _mako.state (namespace, entity, checkpoint, pending) VALUES ($1, $2, $3, NULL)
         ON CONFLICT (namespace, entity) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, pending = NULL, updated_at = now()`,
        [c.table.namespace, c.table.entity, JSON.stringify(c.checkpoint)],
      );
      return { deleted };
    });
  }

  // --- full refresh: shadow table ----------------------------------------------------------

  /**
   * Before a full-refresh pass's first chunk in this process: a shadow left by another pass is
   * dropped and the shadow starts with the live table's columns; a resumed pass keeps its own.
   */
  private prepareShadow(live: TableRef, pass: EntityCheckpoint): Promise<void> {
    const shadow = shadowRef(live);
    const ready = `${key(shadow)}\u0000${pass.passStartedAt}`;
    let promise = this.shadowsReady.get(ready);
    if (!promise) {
      promise = this.transaction(async (client) => {
        this.tables.delete(key(shadow));
        await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`mako:ddl:${live.namespace}`]);
        if (await this.shadowIsOfPass(client, live, pass, false)) return;
        const target = postgresTableName(shadow);
        const source = postgresTableName(live);
        await client.query(`DROP TABLE IF EXISTS ${quote(target.schema)}.${quote(target.table)}`);
        await forgetShape(client, shadow);
        const { rows } = await client.query(`SELECT 1 FROM _mako.tables WHERE namespace = $1 AND entity = $2`, [live.namespace, live.entity]);
        if (rows.length === 0) return; // no live table yet: the chunks create the shadow
        await client.query(
          `CREATE TABLE ${quote(target.schema)}.${quote(target.table)} (LIKE ${quote(source.schema)}.${quote(source.table)} INCLUDING ALL)`,
        );
        await client.query(
          `INSERT INTO _mako.tables (namespace, entity, primary_key, overflow, generation)
           SELECT namespace, $3, primary_key, overflow, 1 FROM _mako.tables WHERE namespace = $1 AND entity = $2`,
          [live.namespace, live.entity, shadow.entity],
        );
        await client.query(
          `INSERT INTO _mako.columns (namespace, entity, field, column_name, type, position)
           SELECT namespace, $3, field, column_name, type, position FROM _mako.columns WHERE namespace = $1 AND entity = $2`,
          [live.namespace, live.entity, shadow.entity],
        );
      });
      promise.catch(() => this.shadowsReady.delete(ready));
      this.shadowsReady.set(ready, promise);
    }
    return promise;
  }

  private async shadowIsOfPass(client: pg.PoolClient, live: TableRef, pass: EntityCheckpoint, preparedHere: boolean): Promise<boolean> {
    const shadow = shadowRef(live);
    const exists = await client.query(`SELECT 1 FROM _mako.tables WHERE namespace = $1 AND entity = $2`, [shadow.namespace, shadow.entity]);
    if (exists.rows.length === 0) return false;
    // At completion: this process prepared the shadow for this very pass.
    if (preparedHere && this.shadowsReady.has(`${key(shadow)}\u0000${pass.passStartedAt}`)) return true;
    const { rows } = await client.query<{ checkpoint: string | null }>(
      `SELECT checkpoint FROM _mako.state WHERE namespace = $1 AND entity = $2`,
      [live.namespace, live.entity],
    );
    return shadowBelongsToPass(readCheckpoint(rows[0]?.checkpoint ?? null, live), pass);
  }

  /**
   * Completes a full refresh in one transaction: the live rows the pass did not see are copied
   * into the shadow (kept, marked deleted), the shadow replaces the live table, and the final
   * checkpoint is saved. Null when this pass has no shadow (it wrote no rows).
   */
  private async swapShadow(c: EntityCompletion): Promise<{ deleted: number } | null> {
    const shadowKey = key(shadowRef(c.table));
    try {
      return await this.transaction(async (client) => {
        await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`mako:ddl:${c.table.namespace}`]);
        if (!(await this.shadowIsOfPass(client, c.table, c.checkpoint, true))) {
          // A shadow left by an abandoned pass must not outlive this one.
          const stale = postgresTableName(shadowRef(c.table));
          await client.query(`DROP TABLE IF EXISTS ${quote(stale.schema)}.${quote(stale.table)}`);
          await forgetShape(client, shadowRef(c.table));
          return null;
        }
        const live = await this.loadTable(client, c.table, c.primaryKey);
        const shadow = await this.loadTable(client, shadowRef(c.table), c.primaryKey);
        if (!shadow.shape) return null;
        const shadowCols = new Map(shadow.shape.columns.map((col) => [col.field, col]));
        if (live.shape) {
          // The shadow began with the live columns and only grew or widened since.
          const pairs = live.shape.columns.map((col) => {
            const target = shadowCols.get(col.field)!;
            const value = `l.${quote(col.name)}`;
            return [quote(target.name), col.type === target.type ? value : widenUsing(value, col.type, target.type)];
          });
          const keyColumns = new Set(shadow.primaryKey.map((k) => quote(shadowCols.get(k)!.name)));
          const fill = pairs.filter(([column]) => !keyColumns.has(column));
          pairs.push([quote(SYNCED_AT), `l.${quote(SYNCED_AT)}`], [quote(DELETED_AT), `l.${quote(DELETED_AT)}`]);
          if (live.shape.overflow && shadow.shape.overflow) {
            pairs.push([quote(OVERFLOW), `l.${quote(OVERFLOW)}`]);
            fill.push([quote(OVERFLOW), `l.${quote(OVERFLOW)}`]);
          }
          const liveCols = new Map(live.shape.columns.map((col) => [col.field, col]));
          const match = shadow.primaryKey
            .map((k) => `s.${quote(shadowCols.get(k)!.name)} = l.${quote(liveCols.get(k)!.name)}`)
            .join(" AND ");
          const filling = fillDeletionsSql("from", shadow.qualified, live.qualified, fill, match, quote(DELETED_AT));
          if (filling) await client.query(filling);
          await client.query(
            `INSERT INTO ${shadow.qualified} (${pairs.map((p) => p[0]).join(", ")})
             SELECT ${pairs.map((p) => p[1]).join(", ")} FROM ${live.qualified} AS l
             WHERE NOT EXISTS (SELECT 1 FROM ${shadow.qualified} AS s WHERE ${match})`,
          );
        }
        let deleted = 0;
        if (c.markUnseenDeletedBefore) {
          const result = await client.query(
            `UPDATE ${shadow.qualified} SET ${quote(DELETED_AT)} = $1 WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < $2`,
            [c.deletedAt, c.markUnseenDeletedBefore],
          );
          deleted = result.rowCount ?? 0;
        }
        await client.query(`DROP TABLE IF EXISTS ${live.qualified}`);
        await client.query(`ALTER TABLE ${shadow.qualified} RENAME TO ${quote(live.table)}`);
        await forgetShape(client, c.table);
        await client.query(
          `UPDATE _mako.tables SET entity = $2, generation = generation + $4 + 1 WHERE namespace = $1 AND entity = $3`,
          [c.table.namespace, c.table.entity, shadow.ref.entity, live.generation],
        );
        await client.query(`UPDATE _mako.columns SET entity = $2 WHERE namespace = $1 AND entity = $3`, [
          c.table.namespace,
          c.table.entity,
          shadow.ref.entity,
        ]);
        await client.query(
          `INSERT INTO _mako.state (namespace, entity, checkpoint, pending) VALUES ($1, $2, $3, NULL)
           ON CONFLICT (namespace, entity) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, pending = NULL, updated_at = now()`,
          [c.table.namespace, c.table.entity, JSON.stringify(c.checkpoint)],
        );
        return { deleted };
      });
    } finally {
      this.tables.delete(key(c.table));
      this.tables.delete(shadowKey);
    }
  }

  // --- schema ---------------------------------------------------------------------------

  /** The table's cached shape; `client` when the caller holds a pooled connection (the pool may be exhausted). */
  private table(ref: TableRef, primaryKey: string[], client?: pg.PoolClient): Promise<PgTable> {
    const k = key(ref);
    let table = this.tables.get(k);
    if (!table) {
      table = this.loadTable(client ?? this.pool, ref, primaryKey);
      table.catch(() => this.tables.delete(k));
      this.tables.set(k, table);
    }
    return table;
  }

  private async loadTable(db: pg.Pool | pg.PoolClient, ref: TableRef, primaryKey: string[]): Promise<PgTable> {
    const { schema, table } = postgresTableName(ref);
    const meta = await db.query<{ primary_key: string; overflow: boolean; generation: number }>(
      `SELECT primary_key, overflow, generation FROM _mako.tables WHERE namespace = $1 AND entity = $2`,
      [ref.namespace, ref.entity],
    );
    let shape: TableShape | null = null;
    if (meta.rows[0]) {
      const cols = await db.query<Column>(
        `SELECT field, column_name AS name, type FROM _mako.columns WHERE namespace = $1 AND entity = $2 ORDER BY position`,
        [ref.namespace, ref.entity],
      );
      shape = { columns: cols.rows, overflow: meta.rows[0].overflow };
      primaryKey = JSON.parse(meta.rows[0].primary_key);
    }
    return {
      ref,
      schema,
      table,
      qualified: `${quote(schema)}.${quote(table)}`,
      primaryKey,
      shape,
      generation: meta.rows[0]?.generation ?? 0,
      writer: null,
    };
  }

  /**
   * Creates the table, adds columns, widens types, in a transaction of its own taken under an
   * advisory lock: writers on other connections (or processes) wait, then see the new schema.
   * DDL never narrows anything, so committing it before the chunk's rows is harmless.
   */
  private async evolve(client: pg.PoolClient, cached: PgTable, observed: Map<string, ColumnType | undefined>): Promise<void> {
    const ref = cached.ref;
    await client.query("BEGIN");
    try {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`mako:ddl:${ref.namespace}`]);
      const fresh = await this.loadTable(client, ref, cached.primaryKey);
      const before = fresh.shape ?? { columns: [], overflow: false };
      const change = planChange(before, observed, RULES, fresh.primaryKey);
      if (change) {
        const after = applyChange(before, change);
        if (!fresh.shape) {
          const missing = fresh.primaryKey.find((k) => !after.columns.some((c) => c.field === k));
          if (missing) throw new Error(`cannot create table ${fresh.qualified}: primary key field "${missing}" has no value`);
          await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(fresh.schema)}`);
          await client.query(`CREATE TABLE ${fresh.qualified} (${columnDefs(fresh.primaryKey, after)})`);
        } else {
          const actions = [
            ...change.added.map((c) => `ADD COLUMN ${quote(c.name)} ${SQL_TYPE[c.type]}`),
            ...change.widened.map(
              (c) => `ALTER COLUMN ${quote(c.name)} TYPE ${SQL_TYPE[c.type]} USING ${widenUsing(quote(c.name), c.from, c.type)}`,
            ),
          ];
          if (change.overflowOn) actions.push(`ADD COLUMN ${quote(OVERFLOW)} jsonb`);
          if (actions.length > 0) await client.query(`ALTER TABLE ${fresh.qualified} ${actions.join(", ")}`);
        }
        await saveShape(client, ref, fresh.primaryKey, after);
        fresh.shape = after;
        fresh.generation++;
      }
      await client.query("COMMIT");
      const current = await this.tables.get(key(ref));
      if (!current || current.generation <= fresh.generation) this.tables.set(key(ref), Promise.resolve(fresh));
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    }
  }

  // --- reading --------------------------------------------------------------------------

  async listTables(namespace: string): Promise<TableInfo[]> {
    const { rows } = await this.pool.query<{ entity: string }>(
      `SELECT entity FROM _mako.tables WHERE namespace = $1 ORDER BY entity`,
      [namespace],
    );
    const out: TableInfo[] = [];
    for (const { entity } of rows) {
      if (isShadowEntity(entity)) continue;
      const { schema, table } = postgresTableName({ namespace, entity });
      const columns = await this.pool.query<{ name: string; type: string }>(
        `SELECT column_name AS name, data_type AS type FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [schema, table],
      );
      const count = await this.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quote(schema)}.${quote(table)}`);
      out.push({ entity, table: `${schema}.${table}`, rows: count.rows[0].n, columns: columns.rows });
    }
    return out;
  }

  async readRows(ref: TableRef, options: { limit: number; offset: number }): Promise<DataRecord[]> {
    const { rows } = await this.pool.query<{ primary_key: string }>(
      `SELECT primary_key FROM _mako.tables WHERE namespace = $1 AND entity = $2`,
      [ref.namespace, ref.entity],
    );
    if (!rows[0]) return [];
    const table = await this.loadTable(this.pool, ref, JSON.parse(rows[0].primary_key));
    const byField = new Map(table.shape!.columns.map((c) => [c.field, c.name]));
    const order = table.primaryKey.map((k) => quote(byField.get(k) ?? k)).join(", ");
    const result = await this.pool.query(`SELECT * FROM ${table.qualified} ORDER BY ${order} LIMIT $1 OFFSET $2`, [
      options.limit,
      options.offset,
    ]);
    return result.rows;
  }

  /** Drops a data source's schema and Mako's bookkeeping of it (tests and benchmarks). */
  async dropNamespace(namespace: string): Promise<void> {
    await this.transaction(async (client) => {
      await client.query(`DROP SCHEMA IF EXISTS ${quote(truncateBytes(namespace, MAX_NAME_BYTES))} CASCADE`);
      for (const t of ["tables", "columns", "state"]) await client.query(`DELETE FROM _mako.${t} WHERE namespace = $1`, [namespace]);
    });
    for (const k of this.tables.keys()) if (k.startsWith(`${namespace}\u0000`)) this.tables.delete(k);
  }

  async test(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

export type BulkMethod = "copy" | "multirow";
export interface PostgresOptions {
  /** Pooled connections, and so chunks written at once. Default 2. */
  connections?: number;
  /** COPY into a staging table + merge, or prepared 1,000-row multi-row upserts. */
  bulk?: BulkMethod;
}
/** Measured on 2 cores with two connections: COPY + merge of 10,000-row chunks was the faster. */
const DEFAULT_BULK: BulkMethod = "copy";

// COPY text format: backslash, tab, newline and carriage return are escaped; \N is null.
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };
const copyEscape = (text: string) => (COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c]) : text);
const nullable = (text: string | null) => (text === null ? "\\N" : copyEscape(text));
const COPY_TEXT: Record<ColumnType, (v: unknown) => string> = {
  boolean: (v) => (v == null ? "\\N" : v ? "t" : "f"),
  integer: (v) => (v == null ? "\\N" : typeof v === "boolean" ? (v ? "1" : "0") : String(v)),
  real: (v) => (v == null ? "\\N" : typeof v === "boolean" ? (v ? "1" : "0") : String(v)),
  text: (v) => nullable(CONVERT.text(v) as string | null),
  json: (v) => nullable(toJson(v)),
};

/** deadlock_detected, serialization_failure, undefined_column, datatype_mismatch, undefined_table. */
const RETRYABLE = new Set(["40P01", "40001", "42703", "42804", "42P01"]);

const key = (ref: TableRef) => `${ref.namespace}\u0000${ref.entity}`;

async function forgetShape(client: pg.PoolClient, ref: TableRef): Promise<void> {
  for (const t of ["tables", "columns"]) await client.query(`DELETE FROM _mako.${t} WHERE namespace = $1 AND entity = $2`, [ref.namespace, ref.entity]);
}

function readCheckpoint(text: string | null, ref: TableRef): EntityCheckpoint | null {
  if (!text) return null;
  try {
    return parseCheckpoint(text, ref);
  } catch {
    return null; // an unreadable checkpoint is replaced by the chunk being committed
  }
}

function columnDefs(primaryKey: string[], shape: TableShape): string {
  const defs = shape.columns.map(
    (c) => `${quote(c.name)} ${SQL_TYPE[c.type]}${primaryKey.includes(c.field) ? " NOT NULL" : ""}`,
  );
  defs.push(`${quote(SYNCED_AT)} timestamptz NOT NULL`, `${quote(DELETED_AT)} timestamptz`);
  if (shape.overflow) defs.push(`${quote(OVERFLOW)} jsonb`);
  const keys = primaryKey.map((k) => quote(shape.columns.find((c) => c.field === k)!.name));
  defs.push(`PRIMARY KEY (${keys.join(", ")})`);
  return defs.join(", ");
}

async function saveShape(client: pg.PoolClient, ref: TableRef, primaryKey: string[], shape: TableShape): Promise<void> {
  await client.query(
    `INSERT INTO _mako.tables (namespace, entity, primary_key, overflow, generation) VALUES ($1, $2, $3, $4, 1)
     ON CONFLICT (namespace, entity) DO UPDATE SET overflow = EXCLUDED.overflow, generation = _mako.tables.generation + 1`,
    [ref.namespace, ref.entity, JSON.stringify(primaryKey), shape.overflow],
  );
  // One statement for every column: a 1,700-field record must not cost 1,700 round trips.
  await client.query(
    `INSERT INTO _mako.columns (namespace, entity, field, column_name, type, position)
     SELECT $1, $2, f, n, t, p FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(f, n, t, p)
     ON CONFLICT (namespace, entity, field) DO UPDATE SET type = EXCLUDED.type`,
    [ref.namespace, ref.entity, shape.columns.map((c) => c.field), shape.columns.map((c) => c.name), shape.columns.map((c) => c.type)],
  );
}

function makeWriter(table: PgTable, shape: TableShape): Writer {
  const width = shape.columns.length + (shape.overflow ? 3 : 2);
  const names = shape.columns.map((c) => c.name);
  names.push(SYNCED_AT, DELETED_AT);
  if (shape.overflow) names.push(OVERFLOW);
  const byField = new Map(shape.columns.map((c) => [c.field, c]));
  const keys = new Set(table.primaryKey.map((k) => byField.get(k)!.name));
  const list = names.map(quote).join(", ");
  const updates = names.filter((n) => !keys.has(n)).map((n) => `${quote(n)} = EXCLUDED.${quote(n)}`);
  const conflict =
    `ON CONFLICT (${[...keys].map(quote).join(", ")}) ` + (updates.length > 0 ? `DO UPDATE SET ${updates.join(", ")}` : "DO NOTHING");
  return {
    id: ++statementIds,
    copyText: shape.columns.map((c) => COPY_TEXT[c.type]),
    names: list,
    merge: (staging) => `INSERT INTO ${table.qualified} (${list}) SELECT ${list} FROM ${staging} ${conflict}`,
    shape,
    byField: new Map(shape.columns.map((c) => [c.field, c])),
    convert: shape.columns.map((c) => CONVERT[c.type]),
    fields: shape.columns.map((c) => c.field),
    width,
    rowsPerStatement: Math.max(1, Math.min(ROWS_PER_STATEMENT, Math.floor(MAX_PARAMS / width))),
    statements: new Map(),
  };
}

function statementFor(table: PgTable, writer: Writer, rows: number): { name: string; text: string } {
  let statement = writer.statements.get(rows);
  if (statement) return statement;
  const names = writer.shape.columns.map((c) => c.name);
  names.push(SYNCED_AT, DELETED_AT);
  if (writer.shape.overflow) names.push(OVERFLOW);
  const keys = new Set(table.primaryKey.map((k) => writer.byField.get(k)!.name));
  const tuples: string[] = new Array(rows);
  for (let r = 0, p = 1; r < rows; r++) {
    const params: string[] = new Array(writer.width);
    for (let j = 0; j < writer.width; j++) params[j] = `$${p++}`;
    tuples[r] = `(${params.join(",")})`;
  }
  const updates = names.filter((n) => !keys.has(n)).map((n) => `${quote(n)} = EXCLUDED.${quote(n)}`);
  const text =
    `INSERT INTO ${table.qualified} (${names.map(quote).join(", ")}) VALUES ${tuples.join(",")} ` +
    `ON CONFLICT (${[...keys].map(quote).join(", ")}) ` +
    (updates.length > 0 ? `DO UPDATE SET ${updates.join(", ")}` : "DO NOTHING");
  statement = { name: `mako_upsert_${++statementIds}`, text };
  writer.statements.set(rows, statement);
  return statement;
}

function overflowText(record: DataRecord, byField: Map<string, Column>): string | null {
  const json = overflowOf(record, byField);
  return json && json.includes("\\u") ? json.replace(JSON_BAD_ESCAPE, "$1\\ufffd") : json;
}

/** int8 as a number when it fits (a string beyond 2^53); timestamps as PostgreSQL prints them. */
function getTypeParser(oid: number, format?: string): (value: string) => unknown {
  if (oid === 20) return (v) => (Number.isSafeInteger(Number(v)) ? Number(v) : v);
  if (oid === 1184 || oid === 1114) return (v) => v;
  return pg.types.getTypeParser(oid, format as "text");
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
