import { createHash } from "node:crypto";
import mysql from "mysql2/promise";
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
  truncateBytes,
} from "../tableShape";
import { SHADOW_SUFFIX, fillDeletionsSql, isShadowEntity, shadowBelongsToPass, shadowRef } from "../shadowTable";

/**
 * InnoDB allows 1,017 columns and ~8 kB of a row in its page (a long value leaves a 20-byte
 * pointer there): 300 data columns always fit. Further fields go to the JSON `_mako_overflow`.
 */
const MAX_DATA_COLUMNS = 300;
const MAX_NAME_CHARS = 64;
/** Rows per INSERT … ON DUPLICATE KEY UPDATE (10,000-row statements measured ~20% slower). */
const ROWS_PER_STATEMENT = 1000;
const DEFAULT_CONNECTIONS = 2;
const MAX_ATTEMPTS = 3;
/**
 * Primary-key columns holding text are VARCHAR(255): an index needs a bounded length, and
 * 255 utf8mb4 characters stay within InnoDB's 3,072-byte key limit for two-column keys.
 */
const KEY_TEXT = "VARCHAR(255)";

const SQL_TYPE: Record<ColumnType, string> = {
  boolean: "BOOLEAN",
  integer: "BIGINT",
  real: "DOUBLE",
  text: "LONGTEXT",
  json: "JSON",
};

const RULES: ShapeRules = {
  maxColumns: MAX_DATA_COLUMNS,
  caseInsensitive: true,
  keysFirst: true,
  typeOf: fieldType,
  columnName: (field, taken) => freeName(field, taken, { maxNameBytes: MAX_NAME_CHARS, caseInsensitive: true, trimTrailingSpaces: true }),
  // MariaDB's JSON is LONGTEXT checked by JSON_VALID: arbitrary text cannot become JSON in
  // place, so a text column that starts receiving objects keeps text and stores their JSON text.
  widen: (a, b) => (a === "text" && b === "json" ? "text" : widen(a, b)!),
};

export const quote = (identifier: string) => `\`${identifier.replaceAll("`", "``")}\``;

/** `NAME__ENTITY`, cut to MySQL's 64 characters (which may not end with a space). */
export function mysqlTableName(ref: TableRef): string {
  // A shadow's name keeps its suffix even when the name is cut, so it never is the live table's.
  if (isShadowEntity(ref.entity)) return withSuffix(mysqlTableName(liveOf(ref)), SHADOW_SUFFIX);
  return truncateBytes(`${ref.namespace}__${ref.entity}`, MAX_NAME_CHARS).trimEnd();
}

const withSuffix = (name: string, suffix: string) => truncateBytes(name, MAX_NAME_CHARS - suffix.length).trimEnd() + suffix;
const liveOf = (shadow: TableRef): TableRef => ({ namespace: shadow.namespace, entity: shadow.entity.slice(0, -SHADOW_SUFFIX.length) });
/** Marks, in `_mako_tables`, a swap committed but whose RENAME TABLE may not have run yet. */
const SWAP_SUFFIX = "__mako_swap";
const OLD_SUFFIX = "__mako_old";

type Converter = (value: unknown) => unknown;
const number: Converter = (v) => (typeof v === "boolean" ? (v ? 1 : 0) : typeof v === "bigint" ? String(v) : v ?? null);
const CONVERT: Record<ColumnType, Converter> = {
  boolean: (v) => v ?? null,
  integer: number,
  real: number,
  text: (v) =>
    typeof v === "string"
      ? v
      : v == null
        ? null
        : v instanceof Date
          ? v.toISOString()
          : typeof v === "object"
            ? JSON.stringify(v)
            : String(v),
  json: (v) => (v == null ? null : JSON.stringify(v)),
};

/** MySQL DATETIME(6) in UTC from an ISO timestamp (or anything Date can parse). */
function toDatetime(value: unknown): string | null {
  if (value == null) return null;
  const iso = typeof value === "string" && value.length === 24 && value.endsWith("Z") ? value : new Date(value as string).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

interface Writer {
  shape: TableShape;
  byField: Map<string, Column>;
  convert: Converter[];
  fields: string[];
  width: number;
  head: string;
  tail: string;
  tuple: string;
}

interface MyTable {
  ref: TableRef;
  name: string;
  primaryKey: string[];
  shape: TableShape | null;
  generation: number;
  writer: Writer | null;
}

type Conn = mysql.PoolConnection;

/**
 * MySQL/MariaDB destination: table `NAME__ENTITY` in the URL's database, multi-row
 * INSERT … ON DUPLICATE KEY UPDATE of ~1,000 rows (kept under max_allowed_packet), chunks
 * written on two connections at once, each chunk's rows and checkpoint in one transaction.
 */
export class MysqlDestination implements Destination {
  readonly kind = "mysql";
  readonly writeConcurrency: number;
  private readonly tables = new Map<string, Promise<MyTable>>();
  /** Full-refresh passes whose shadow table is ready, by `key(shadow)\0passStartedAt`. */
  private readonly shadowsReady = new Map<string, Promise<void>>();
  /** Tables whose possibly interrupted swap this process has finished. */
  private readonly swapsChecked = new Set<string>();
  private maxStatementBytes = 4 << 20;

  static async open(url: string, options: { connections?: number } = {}): Promise<MysqlDestination> {
    const connections = options.connections ?? DEFAULT_CONNECTIONS;
    const pool = mysql.createPool({
      uri: url,
      connectionLimit: connections,
      charset: "utf8mb4_bin",
      supportBigNumbers: true,
      dateStrings: true,
      timezone: "Z",
    });
    // Row locks only, no gap locks: two connections upserting disjoint keys do not block each other.
    pool.pool.on("connection", (c) => c.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"));
    const destination = new MysqlDestination(pool, connections);
    try {
      await destination.setup();
    } catch (err) {
      await pool.end().catch(() => {});
      throw new Error(`cannot open MySQL destination ${url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@")}: ${err.message}`);
    }
    return destination;
  }

  private constructor(
    readonly pool: mysql.Pool,
    connections: number,
  ) {
    this.writeConcurrency = connections;
  }

  private async setup(): Promise<void> {
    const [[db]] = await this.pool.query<mysql.RowDataPacket[]>("SELECT DATABASE() AS name, @@max_allowed_packet AS packet");
    if (!db.name) throw new Error("the URL names no database (mysql://user@host:3306/DATABASE)");
    // Half the packet: the estimate of a statement's size is rough.
    this.maxStatementBytes = Math.max(64 << 10, Math.min(Number(db.packet) / 2, 32 << 20));
    const opts = "DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_bin";
    await this.pool.query(`CREATE TABLE IF NOT EXISTS _mako_state (
      namespace VARCHAR(255) NOT NULL, entity VARCHAR(255) NOT NULL, checkpoint LONGTEXT, pending LONGTEXT,
      updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (namespace, entity)) ${opts}`);
    await this.pool.query(`CREATE TABLE IF NOT EXISTS _mako_tables (
      namespace VARCHAR(255) NOT NULL, entity VARCHAR(255) NOT NULL, table_name VARCHAR(64) NOT NULL,
      primary_key TEXT NOT NULL, overflow BOOLEAN NOT NULL DEFAULT FALSE, generation INT NOT NULL DEFAULT 0,
      PRIMARY KEY (namespace, entity)) ${opts}`);
    await this.pool.query(`CREATE TABLE IF NOT EXISTS _mako_columns (
      namespace VARCHAR(255) NOT NULL, entity VARCHAR(255) NOT NULL, field VARCHAR(255) NOT NULL,
      column_name VARCHAR(64) NOT NULL, type VARCHAR(16) NOT NULL, position INT NOT NULL,
      PRIMARY KEY (namespace, entity, field)) ${opts}`);
  }

  // --- checkpoints ----------------------------------------------------------------------

  async loadCheckpoint(ref: TableRef): Promise<EntityCheckpoint | null> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
      "SELECT checkpoint FROM _mako_state WHERE namespace = ? AND entity = ?",
      [ref.namespace, ref.entity],
    );
    const text = rows[0]?.checkpoint as string | null | undefined;
    return text ? parseCheckpoint(text, ref) : null;
  }

  async resetCheckpoint(ref: TableRef): Promise<void> {
    await this.pool.query("DELETE FROM _mako_state WHERE namespace = ? AND entity = ?", [ref.namespace, ref.entity]);
  }

  private async saveCheckpoint(conn: Conn, ref: TableRef, checkpoint: EntityCheckpoint): Promise<void> {
    // The upsert takes the row's lock: the other connection's chunk waits here until this commits.
    await conn.query(
      "INSERT INTO _mako_state (namespace, entity) VALUES (?, ?) ON DUPLICATE KEY UPDATE updated_at = CURRENT_TIMESTAMP(6)",
      [ref.namespace, ref.entity],
    );
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT checkpoint, pending FROM _mako_state WHERE namespace = ? AND entity = ?",
      [ref.namespace, ref.entity],
    );
    const stored: ChunkProgress = { checkpoint: readCheckpoint(rows[0].checkpoint, ref), pending: parsePending(rows[0].pending) };
    const next = advance(stored, checkpoint);
    await conn.query("UPDATE _mako_state SET checkpoint = ?, pending = ? WHERE namespace = ? AND entity = ?", [
      next.checkpoint && JSON.stringify(next.checkpoint),
      next.pending && JSON.stringify(next.pending),
      ref.namespace,
      ref.entity,
    ]);
  }

  // --- rows -----------------------------------------------------------------------------

  async writeChunk(write: ChunkWrite): Promise<void> {
    const live = write.table;
    if (!this.swapsChecked.has(key(live))) {
      await this.withDdlLock(live.namespace, (conn) => finishSwap(conn, live));
      this.swapsChecked.add(key(live));
    }
    if (write.checkpoint.mode === "full_refresh") {
      await this.prepareShadow(live, write.checkpoint);
      write = { ...write, table: shadowRef(live) };
    }
    const observed = observeTypes(write.records, fieldType);
    const conn = await this.pool.getConnection();
    let broken = false;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          let table = await this.table(write.table, write.primaryKey, conn);
          if (planChange(table.shape ?? { columns: [], overflow: false }, observed, RULES, table.primaryKey)) {
            await this.evolve(conn, table, observed);
            table = await this.table(write.table, write.primaryKey, conn);
          }
          await conn.query("START TRANSACTION");
          try {
            if (write.records.length > 0) await this.upsert(conn, table, write.records, write.syncedAt);
            await this.saveCheckpoint(conn, live, write.checkpoint);
            await conn.query("COMMIT");
          } catch (err) {
            await conn.query("ROLLBACK").catch(() => {
              broken = true;
            });
            throw err;
          }
          return;
        } catch (err) {
          if (broken || attempt >= MAX_ATTEMPTS || !RETRYABLE.has(err.errno)) throw err;
          this.tables.delete(key(write.table)); // a deadlock, or a schema changed under us: redo it all
        }
      }
    } finally {
      if (broken) conn.destroy();
      else conn.release();
    }
  }

  private async upsert(conn: Conn, table: MyTable, records: DataRecord[], syncedAt: string): Promise<void> {
    if (!table.shape) throw new Error(`table ${table.name} has no columns: no record had a non-null field`);
    const writer = (table.writer ??= makeWriter(table, table.shape));
    const { fields, convert, byField } = writer;
    const n = fields.length;
    const overflow = writer.shape.overflow;
    const synced = toDatetime(syncedAt);
    const budget = this.maxStatementBytes;
    let values: unknown[] = [];
    let rows = 0;
    let bytes = 0;
    const flush = async () => {
      const sql = writer.head + new Array(rows).fill(writer.tuple).join(",") + writer.tail;
      await conn.query(sql, values);
      values = [];
      rows = 0;
      bytes = 0;
    };
    for (const record of records) {
      for (let j = 0; j < n; j++) {
        const v = convert[j](record[fields[j]]);
        if (typeof v === "string") bytes += v.length;
        values.push(v);
      }
      values.push(synced, toDatetime(record[DELETED_AT]));
      if (overflow) {
        const extra = overflowOf(record, byField);
        if (extra) bytes += extra.length;
        values.push(extra);
      }
      bytes += 8 * n;
      if (++rows >= ROWS_PER_STATEMENT || bytes >= budget) await flush();
    }
    if (rows > 0) await flush();
  }

  async completeEntity(c: EntityCompletion): Promise<{ deleted: number }> {
    if (c.checkpoint.mode === "full_refresh") {
      const swapped = await this.swapShadow(c);
      if (swapped) return swapped;
    }
    const conn = await this.pool.getConnection();
    try {
      const table = await this.table(c.table, c.primaryKey, conn);
      await conn.query("START TRANSACTION");
      let deleted = 0;
      if (c.markUnseenDeletedBefore && table.shape) {
        const [result] = await conn.query<mysql.ResultSetHeader>(
          `UPDATE ${quote(table.name)} SET ${quote(DELETED_AT)} = ? WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < ?`,
          [toDatetime(c.deletedAt), toDatetime(c.markUnseenDeletedBefore)],
        );
        deleted = result.affectedRows;
      }
      await conn.query(
        `INSERT INTO _mako_state (namespace, entity, checkpoint, pending) VALUES (?, ?, ?, NULL)
         ON DUPLICATE KEY UPDATE checkpoint = VALUES(checkpoint), pending = NULL, updated_at = CURRENT_TIMESTAMP(6)`,
        [c.table.namespace, c.table.entity, JSON.stringify(c.checkpoint)],
      );
      await conn.query("COMMIT");
      return { deleted };
    } catch (err) {
      await conn.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      conn.release();
    }
  }

  // --- full refresh: shadow table ----------------------------------------------------------

  private async withDdlLock<T>(namespace: string, work: (conn: Conn) => Promise<T>): Promise<T> {
    const conn = await this.pool.getConnection();
    const lock = `mako_ddl_${createHash("sha1").update(namespace).digest("hex")}`;
    try {
      const [[got]] = await conn.query<mysql.RowDataPacket[]>("SELECT GET_LOCK(?, 600) AS ok", [lock]);
      if (got.ok !== 1) throw new Error(`timed out waiting for the schema lock of ${namespace}`);
      try {
        return await work(conn);
      } finally {
        await conn.query("SELECT RELEASE_LOCK(?)", [lock]);
      }
    } finally {
      conn.release();
    }
  }

  /**
   * Before a full-refresh pass's first chunk in this process: a shadow left by another pass is
   * dropped and the shadow starts as a copy of the live table's definition; a resumed pass keeps its own.
   */
  private prepareShadow(live: TableRef, pass: EntityCheckpoint): Promise<void> {
    const shadow = shadowRef(live);
    const ready = `${key(shadow)}\u0000${pass.passStartedAt}`;
    let promise = this.shadowsReady.get(ready);
    if (!promise) {
      promise = this.withDdlLock(live.namespace, async (conn) => {
        this.tables.delete(key(shadow));
        await finishSwap(conn, live);
        if (await this.shadowIsOfPass(conn, live, pass, false)) return;
        await conn.query(`DROP TABLE IF EXISTS ${quote(mysqlTableName(shadow))}`);
        await forgetShape(conn, shadow);
        const [meta] = await conn.query<mysql.RowDataPacket[]>("SELECT table_name FROM _mako_tables WHERE namespace = ? AND entity = ?", [
          live.namespace,
          live.entity,
        ]);
        if (meta.length === 0) return; // no live table yet: the chunks create the shadow
        await conn.query(`CREATE TABLE ${quote(mysqlTableName(shadow))} LIKE ${quote(meta[0].table_name)}`);
        await conn.query(
          `INSERT INTO _mako_tables (namespace, entity, table_name, primary_key, overflow, generation)
           SELECT namespace, ?, ?, primary_key, overflow, 1 FROM _mako_tables WHERE namespace = ? AND entity = ?`,
          [shadow.entity, mysqlTableName(shadow), live.namespace, live.entity],
        );
        await conn.query(
          `INSERT INTO _mako_columns (namespace, entity, field, column_name, type, position)
           SELECT namespace, ?, field, column_name, type, position FROM _mako_columns WHERE namespace = ? AND entity = ?`,
          [shadow.entity, live.namespace, live.entity],
        );
      });
      promise.catch(() => this.shadowsReady.delete(ready));
      this.shadowsReady.set(ready, promise);
    }
    return promise;
  }

  private async shadowIsOfPass(conn: Conn, live: TableRef, pass: EntityCheckpoint, preparedHere: boolean): Promise<boolean> {
    const shadow = shadowRef(live);
    const [exists] = await conn.query<mysql.RowDataPacket[]>("SELECT 1 FROM _mako_tables WHERE namespace = ? AND entity = ?", [
      shadow.namespace,
      shadow.entity,
    ]);
    if (exists.length === 0) return false;
    // At completion: this process prepared the shadow for this very pass.
    if (preparedHere && this.shadowsReady.has(`${key(shadow)}\u0000${pass.passStartedAt}`)) return true;
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT checkpoint FROM _mako_state WHERE namespace = ? AND entity = ?", [
      live.namespace,
      live.entity,
    ]);
    return shadowBelongsToPass(readCheckpoint(rows[0]?.checkpoint ?? null, live), pass);
  }

  /**
   * Completes a full refresh. One transaction copies into the shadow the live rows the pass did
   * not see (kept, marked deleted), moves the shadow's metadata to the entity and saves the final
   * checkpoint, with a swap mark; then one atomic RENAME TABLE puts the shadow in the live
   * table's place (MySQL's DDL cannot join a transaction: a crash between the two is finished by
   * `finishSwap` next time). Null when this pass has no shadow (it wrote no rows).
   */
  private async swapShadow(c: EntityCompletion): Promise<{ deleted: number } | null> {
    const shadowRefOf = shadowRef(c.table);
    try {
      return await this.withDdlLock(c.table.namespace, async (conn) => {
        await finishSwap(conn, c.table);
        if (!(await this.shadowIsOfPass(conn, c.table, c.checkpoint, true))) {
          // A shadow left by an abandoned pass must not outlive this one.
          await conn.query(`DROP TABLE IF EXISTS ${quote(mysqlTableName(shadowRefOf))}`);
          await forgetShape(conn, shadowRefOf);
          return null;
        }
        const live = await loadTable(conn, c.table, c.primaryKey);
        const shadow = await loadTable(conn, shadowRefOf, c.primaryKey);
        if (!shadow.shape) return null;
        const liveName = mysqlTableName(c.table);
        await conn.query("START TRANSACTION");
        try {
          let deleted = 0;
          if (live.shape) {
            // The shadow began with the live columns and only grew or widened since; MySQL converts on insert.
            const shadowCols = new Map(shadow.shape.columns.map((col) => [col.field, col]));
            const pairs = live.shape.columns.map((col) => [quote(shadowCols.get(col.field)!.name), `l.${quote(col.name)}`]);
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
            const filling = fillDeletionsSql("join", quote(shadow.name), quote(live.name), fill, match, quote(DELETED_AT));
            if (filling) await conn.query(filling);
            await conn.query(
              `INSERT INTO ${quote(shadow.name)} (${pairs.map((p) => p[0]).join(", ")})
               SELECT ${pairs.map((p) => p[1]).join(", ")} FROM ${quote(live.name)} AS l
               WHERE NOT EXISTS (SELECT 1 FROM ${quote(shadow.name)} AS s WHERE ${match})`,
            );
          }
          if (c.markUnseenDeletedBefore) {
            const [result] = await conn.query<mysql.ResultSetHeader>(
              `UPDATE ${quote(shadow.name)} SET ${quote(DELETED_AT)} = ? WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < ?`,
              [toDatetime(c.deletedAt), toDatetime(c.markUnseenDeletedBefore)],
            );
            deleted = result.affectedRows;
          }
          await forgetShape(conn, c.table);
          await conn.query("UPDATE _mako_tables SET entity = ?, table_name = ?, generation = generation + ? + 1 WHERE namespace = ? AND entity = ?", [
            c.table.entity,
            liveName,
            live.generation,
            c.table.namespace,
            shadowRefOf.entity,
          ]);
          await conn.query("UPDATE _mako_columns SET entity = ? WHERE namespace = ? AND entity = ?", [
            c.table.entity,
            c.table.namespace,
            shadowRefOf.entity,
          ]);
          await conn.query(
            `INSERT INTO _mako_tables (namespace, entity, table_name, primary_key, overflow, generation) VALUES (?, ?, ?, '[]', 0, 0)`,
            [c.table.namespace, c.table.entity + SWAP_SUFFIX, shadow.name],
          );
          await conn.query(
            `INSERT INTO _mako_state (namespace, entity, checkpoint, pending) VALUES (?, ?, ?, NULL)
             ON DUPLICATE KEY UPDATE checkpoint = VALUES(checkpoint), pending = NULL, updated_at = CURRENT_TIMESTAMP(6)`,
            [c.table.namespace, c.table.entity, JSON.stringify(c.checkpoint)],
          );
          await conn.query("COMMIT");
          await finishSwap(conn, c.table);
          return { deleted };
        } catch (err) {
          await conn.query("ROLLBACK").catch(() => {});
          throw err;
        }
      });
    } finally {
      this.tables.delete(key(c.table));
      this.tables.delete(key(shadowRefOf));
    }
  }

  // --- schema ---------------------------------------------------------------------------

  private table(ref: TableRef, primaryKey: string[], conn: Conn): Promise<MyTable> {
    const k = key(ref);
    let table = this.tables.get(k);
    if (!table) {
      table = loadTable(conn, ref, primaryKey);
      table.catch(() => this.tables.delete(k));
      this.tables.set(k, table);
    }
    return table;
  }

  /**
   * MySQL's DDL commits on its own, so it runs before the chunk's transaction, serialised across
   * connections and processes by a named lock. It only ever adds and widens: harmless if the
   * chunk then fails. Metadata is written after the DDL; a crash between them is repaired next time.
   */
  private async evolve(conn: Conn, cached: MyTable, observed: Map<string, ColumnType | undefined>): Promise<void> {
    const ref = cached.ref;
    const lock = `mako_ddl_${createHash("sha1").update(ref.namespace).digest("hex")}`;
    const [[got]] = await conn.query<mysql.RowDataPacket[]>("SELECT GET_LOCK(?, 600) AS ok", [lock]);
    if (got.ok !== 1) throw new Error(`timed out waiting for the schema lock of ${ref.namespace}`);
    try {
      const fresh = await loadTable(conn, ref, cached.primaryKey);
      const before = fresh.shape ?? { columns: [], overflow: false };
      const change = planChange(before, observed, RULES, fresh.primaryKey);
      if (change) {
        const after = applyChange(before, change);
        if (!fresh.shape) {
          const missing = fresh.primaryKey.find((k) => !after.columns.some((c) => c.field === k));
          if (missing) throw new Error(`cannot create table ${fresh.name}: primary key field "${missing}" has no value`);
          await dropLeftover(conn, fresh.name);
          await conn.query(
            `CREATE TABLE ${quote(fresh.name)} (${columnDefs(fresh.primaryKey, after)}) DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_bin`,
          );
        } else {
          const isKey = (c: Column) => fresh.primaryKey.includes(c.field);
          const adds = change.added.map((c) => `ADD COLUMN ${quote(c.name)} ${SQL_TYPE[c.type]}`);
          if (change.overflowOn) adds.push(`ADD COLUMN ${quote(OVERFLOW)} JSON`);
          const modifies = change.widened.map((c) => `MODIFY COLUMN ${quote(c.name)} ${columnType(c, isKey(c))}`);
          await alterEach(conn, fresh.name, adds, modifies);
        }
        await saveShape(conn, fresh, after);
        fresh.shape = after;
        fresh.generation++;
      }
      const current = await this.tables.get(key(ref))?.catch(() => undefined);
      if (!current || current.generation <= fresh.generation) this.tables.set(key(ref), Promise.resolve(fresh));
    } finally {
      await conn.query("SELECT RELEASE_LOCK(?)", [lock]);
    }
  }

  // --- reading --------------------------------------------------------------------------

  async listTables(namespace: string): Promise<TableInfo[]> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>(
      "SELECT entity, table_name FROM _mako_tables WHERE namespace = ? ORDER BY entity",
      [namespace],
    );
    const out: TableInfo[] = [];
    for (const { entity, table_name } of rows) {
      if (isShadowEntity(entity) || entity.endsWith(SWAP_SUFFIX)) continue;
      const [columns] = await this.pool.query<mysql.RowDataPacket[]>(
        `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS
         WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
        [table_name],
      );
      const [[count]] = await this.pool.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${quote(table_name)}`);
      out.push({ entity, table: table_name, rows: Number(count.n), columns: columns.map((c) => ({ name: c.name, type: c.type })) });
    }
    return out;
  }

  async readRows(ref: TableRef, options: { limit: number; offset: number }): Promise<DataRecord[]> {
    const conn = await this.pool.getConnection();
    try {
      const table = await loadTable(conn, ref, ["id"]);
      if (!table.shape) return [];
      const byField = new Map(table.shape.columns.map((c) => [c.field, c.name]));
      const order = table.primaryKey.map((k) => quote(byField.get(k) ?? k)).join(", ");
      const [rows] = await conn.query<mysql.RowDataPacket[]>(
        `SELECT * FROM ${quote(table.name)} ORDER BY ${order} LIMIT ? OFFSET ?`,
        [options.limit, options.offset],
      );
      // JSON columns come back parsed: mysql2 reads MariaDB's JSON format metadata (10.5+) and MySQL's JSON type.
      return rows as DataRecord[];
    } finally {
      conn.release();
    }
  }

  /** Drops a data source's tables and Mako's bookkeeping of them (tests and benchmarks). */
  async dropNamespace(namespace: string): Promise<void> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>("SELECT table_name FROM _mako_tables WHERE namespace = ?", [namespace]);
    for (const { table_name } of rows) await this.pool.query(`DROP TABLE IF EXISTS ${quote(table_name)}`);
    for (const t of ["_mako_tables", "_mako_columns", "_mako_state"]) await this.pool.query(`DELETE FROM ${t} WHERE namespace = ?`, [namespace]);
    for (const k of this.tables.keys()) if (k.startsWith(`${namespace}\u0000`)) this.tables.delete(k);
  }

  async test(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT, ER_BAD_FIELD_ERROR, ER_NO_SUCH_TABLE. */
const RETRYABLE = new Set([1213, 1205, 1054, 1146]);
const ER_DUP_FIELDNAME = 1060;

const key = (ref: TableRef) => `${ref.namespace}\u0000${ref.entity}`;

async function forgetShape(conn: Conn, ref: TableRef): Promise<void> {
  for (const t of ["_mako_tables", "_mako_columns"]) await conn.query(`DELETE FROM ${t} WHERE namespace = ? AND entity = ?`, [ref.namespace, ref.entity]);
}

/**
 * Runs (or finishes, after a crash) the RENAME TABLE of a committed swap: live → old and
 * shadow → live in one atomic statement, then drops the old table. The caller holds the DDL lock.
 */
async function finishSwap(conn: Conn, live: TableRef): Promise<void> {
  const [marks] = await conn.query<mysql.RowDataPacket[]>("SELECT table_name FROM _mako_tables WHERE namespace = ? AND entity = ?", [
    live.namespace,
    live.entity + SWAP_SUFFIX,
  ]);
  if (marks.length === 0) return;
  const shadow = marks[0].table_name as string;
  const liveName = mysqlTableName(live);
  const old = withSuffix(liveName, OLD_SUFFIX);
  const exists = async (name: string) =>
    (
      await conn.query<mysql.RowDataPacket[]>("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", [
        name,
      ])
    )[0].length > 0;
  if (await exists(shadow)) {
    await conn.query(`DROP TABLE IF EXISTS ${quote(old)}`);
    if (await exists(liveName)) await conn.query(`RENAME TABLE ${quote(liveName)} TO ${quote(old)}, ${quote(shadow)} TO ${quote(liveName)}`);
    else await conn.query(`RENAME TABLE ${quote(shadow)} TO ${quote(liveName)}`);
  }
  await conn.query(`DROP TABLE IF EXISTS ${quote(old)}`);
  await conn.query("DELETE FROM _mako_tables WHERE namespace = ? AND entity = ?", [live.namespace, live.entity + SWAP_SUFFIX]);
}

function readCheckpoint(text: string | null, ref: TableRef): EntityCheckpoint | null {
  if (!text) return null;
  try {
    return parseCheckpoint(text, ref);
  } catch {
    return null;
  }
}

async function loadTable(conn: Conn, ref: TableRef, primaryKey: string[]): Promise<MyTable> {
  const [meta] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT table_name, primary_key, overflow, generation FROM _mako_tables WHERE namespace = ? AND entity = ?",
    [ref.namespace, ref.entity],
  );
  let shape: TableShape | null = null;
  if (meta[0]) {
    const [cols] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT field, column_name AS name, type FROM _mako_columns WHERE namespace = ? AND entity = ? ORDER BY position",
      [ref.namespace, ref.entity],
    );
    shape = { columns: cols as Column[], overflow: meta[0].overflow === 1 };
    primaryKey = JSON.parse(meta[0].primary_key);
  }
  return {
    ref,
    name: meta[0]?.table_name ?? mysqlTableName(ref),
    primaryKey,
    shape,
    generation: meta[0]?.generation ?? 0,
    writer: null,
  };
}

function columnType(c: Column, isKey: boolean): string {
  if (isKey) return (c.type === "text" || c.type === "json" ? KEY_TEXT : SQL_TYPE[c.type]) + " NOT NULL";
  return SQL_TYPE[c.type];
}

function columnDefs(primaryKey: string[], shape: TableShape): string {
  const defs = shape.columns.map((c) => `${quote(c.name)} ${columnType(c, primaryKey.includes(c.field))}`);
  defs.push(`${quote(SYNCED_AT)} DATETIME(6) NOT NULL`, `${quote(DELETED_AT)} DATETIME(6) NULL`);
  if (shape.overflow) defs.push(`${quote(OVERFLOW)} JSON`);
  const keys = primaryKey.map((k) => quote(shape.columns.find((c) => c.field === k)!.name));
  defs.push(`PRIMARY KEY (${keys.join(", ")})`);
  return defs.join(", ");
}

/**
 * A table without metadata is either left by a crash between CREATE TABLE and the metadata
 * write (then empty: no chunk commits before its metadata) or someone else's table.
 */
async function dropLeftover(conn: Conn, table: string): Promise<void> {
  const [exists] = await conn.query<mysql.RowDataPacket[]>(
    "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
    [table],
  );
  if (exists.length === 0) return;
  const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT 1 FROM ${quote(table)} LIMIT 1`);
  if (rows.length > 0) throw new Error(`table ${table} exists and was not created by Mako: rename it or choose another source name`);
  await conn.query(`DROP TABLE ${quote(table)}`);
}

/** One ALTER for everything; if a column exists already (a crash after DDL, before metadata), one by one. */
async function alterEach(conn: Conn, table: string, adds: string[], modifies: string[]): Promise<void> {
  const all = [...adds, ...modifies];
  if (all.length === 0) return;
  try {
    await conn.query(`ALTER TABLE ${quote(table)} ${all.join(", ")}`);
  } catch (err) {
    if (err.errno !== ER_DUP_FIELDNAME) throw err;
    for (const action of adds) {
      await conn.query(`ALTER TABLE ${quote(table)} ${action}`).catch((e) => {
        if (e.errno !== ER_DUP_FIELDNAME) throw e;
      });
    }
    if (modifies.length > 0) await conn.query(`ALTER TABLE ${quote(table)} ${modifies.join(", ")}`);
  }
}

async function saveShape(conn: Conn, table: MyTable, shape: TableShape): Promise<void> {
  const { ref } = table;
  await conn.query(
    `INSERT INTO _mako_tables (namespace, entity, table_name, primary_key, overflow, generation) VALUES (?, ?, ?, ?, ?, 1)
     ON DUPLICATE KEY UPDATE overflow = VALUES(overflow), generation = generation + 1`,
    [ref.namespace, ref.entity, table.name, JSON.stringify(table.primaryKey), shape.overflow],
  );
  const rows = shape.columns.map((c, i) => [ref.namespace, ref.entity, c.field, c.name, c.type, i]);
  await conn.query(
    "INSERT INTO _mako_columns (namespace, entity, field, column_name, type, position) VALUES ? ON DUPLICATE KEY UPDATE type = VALUES(type)",
    [rows],
  );
}

function makeWriter(table: MyTable, shape: TableShape): Writer {
  const names = shape.columns.map((c) => c.name);
  names.push(SYNCED_AT, DELETED_AT);
  if (shape.overflow) names.push(OVERFLOW);
  const byField = new Map(shape.columns.map((c) => [c.field, c]));
  const keys = new Set(table.primaryKey.map((k) => byField.get(k)!.name));
  const updates = names.filter((n) => !keys.has(n)).map((n) => `${quote(n)} = VALUES(${quote(n)})`);
  return {
    shape,
    byField,
    convert: shape.columns.map((c) => CONVERT[c.type]),
    fields: shape.columns.map((c) => c.field),
    width: names.length,
    head: `INSERT INTO ${quote(table.name)} (${names.map(quote).join(", ")}) VALUES `,
    tuple: `(${names.map(() => "?").join(",")})`,
    tail: ` ON DUPLICATE KEY UPDATE ${updates.join(", ")}`,
  };
}
