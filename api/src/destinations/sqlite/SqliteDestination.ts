import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { DataRecord } from "../../connectors/base/types";
import { type ColumnType, typeOfValue, widen } from "../columnTypes";
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
import { parseCheckpoint } from "../checkpointCodec";
import { fillDeletionsSql, isShadowEntity, shadowBelongsToPass, shadowRef } from "../shadowTable";

/** SQLite allows 2000 columns by default; past this many, fields go to a JSON overflow column. */
const MAX_DATA_COLUMNS = 1900;
const OVERFLOW = "_mako_overflow";
const SYSTEM_COLUMNS = new Set([SYNCED_AT, DELETED_AT, OVERFLOW]);

const SQL_TYPE: Record<ColumnType, string> = {
  boolean: "INTEGER",
  integer: "INTEGER",
  real: "REAL",
  text: "TEXT",
  json: "TEXT",
};

interface Column {
  field: string;
  name: string;
  type: ColumnType;
}

interface Table {
  name: string;
  ref: TableRef;
  primaryKey: string[];
  exists: boolean;
  columns: Column[];
  byField: Map<string, Column>;
  overflow: boolean;
  upsert?: Database.Statement;
  upsertBlock?: Database.Statement;
  rowsPerBlock?: number;
  convert?: Array<(value: unknown) => unknown>;
}

export const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;

/** `NAME__ENTITY`, as DESIGN.md names tables in SQLite. */
export const sqliteTableName = (ref: TableRef) => `${ref.namespace}__${ref.entity}`;

const toNumber = (v: unknown) => (v === true ? 1 : v === false ? 0 : v ?? null);
const toText = (v: unknown) =>
  v == null ? null : typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
const toJson = (v: unknown) => (v == null ? null : JSON.stringify(v));
const CONVERT: Record<ColumnType, (v: unknown) => unknown> = {
  boolean: toNumber,
  integer: toNumber,
  real: toNumber,
  text: toText,
  json: toJson,
};

/**
 * The embedded destination: one SQLite file (WAL) holding synced tables and their
 * checkpoints. Each chunk's rows and checkpoint commit in one transaction.
 */
export class SqliteDestination implements Destination {
  readonly kind = "sqlite";
  readonly writeConcurrency = 1;
  private readonly tables = new Map<string, Table>();
  private readonly saveState: Database.Statement;
  private readonly loadState: Database.Statement;
  /** `shadow table\0passStartedAt` of the full-refresh passes whose shadow is ready. */
  private readonly shadowsReady = new Set<string>();

  static open(path: string): SqliteDestination {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: 5000 });
      db.pragma("journal_mode = WAL");
    } catch (err) {
      throw new Error(`cannot open SQLite database ${path}: ${err.message}`);
    }
    return new SqliteDestination(db);
  }

  constructor(readonly db: Database.Database) {
    // synchronous=NORMAL in WAL mode survives a killed process; only power loss may drop the
    // last commits, and then rows and checkpoint are dropped together.
    db.pragma("synchronous = NORMAL");
    db.exec(`
      CREATE TABLE IF NOT EXISTS _mako_state (
        namespace TEXT NOT NULL, entity TEXT NOT NULL, checkpoint TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (namespace, entity));
      CREATE TABLE IF NOT EXISTS _mako_tables (
        table_name TEXT PRIMARY KEY, namespace TEXT NOT NULL, entity TEXT NOT NULL,
        primary_key TEXT NOT NULL, overflow INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS _mako_columns (
        table_name TEXT NOT NULL, field TEXT NOT NULL, column_name TEXT NOT NULL, type TEXT NOT NULL,
        position INTEGER NOT NULL, PRIMARY KEY (table_name, field));
    `);
    this.saveState = db.prepare(
      `INSERT INTO _mako_state (namespace, entity, checkpoint, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (namespace, entity) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = excluded.updated_at`,
    );
    this.loadState = db.prepare(`SELECT checkpoint FROM _mako_state WHERE namespace = ? AND entity = ?`);
  }

  async loadCheckpoint(ref: TableRef): Promise<EntityCheckpoint | null> {
    const row = this.loadState.get(ref.namespace, ref.entity) as { checkpoint: string } | undefined;
    return row ? parseCheckpoint(row.checkpoint, ref) : null;
  }

  async resetCheckpoint(ref: TableRef): Promise<void> {
    this.db.prepare(`DELETE FROM _mako_state WHERE namespace = ? AND entity = ?`).run(ref.namespace, ref.entity);
  }

  async writeChunk(write: ChunkWrite): Promise<void> {
    const fullRefresh = write.checkpoint.mode === "full_refresh";
    const table = this.table(fullRefresh ? shadowRef(write.table) : write.table, write.primaryKey);
    const observed = observeTypes(write.records);
    try {
      this.db.transaction(() => {
        if (fullRefresh) this.prepareShadow(write.table, table, write.checkpoint);
        // An empty chunk still moves the checkpoint, but says nothing to build a table from.
        if (write.records.length > 0) {
          this.evolve(table, observed);
          this.upsertRows(table, write.records, write.syncedAt);
        }
        this.saveState.run(write.table.namespace, write.table.entity, JSON.stringify(write.checkpoint), write.syncedAt);
      })();
    } catch (err) {
      // The transaction rolled back; forget the cached schema so it is read again.
      this.tables.delete(table.name);
      this.shadowsReady.clear();
      throw err;
    }
  }

  async completeEntity(c: EntityCompletion): Promise<{ deleted: number }> {
    if (c.checkpoint.mode === "full_refresh") {
      const shadow = this.table(shadowRef(c.table), c.primaryKey);
      if (this.shadowIsOfPass(c.table, shadow, c.checkpoint)) return this.swapShadow(c, shadow);
    }
    const table = this.table(c.table, c.primaryKey);
    let deleted = 0;
    this.db.transaction(() => {
      // A pass that wrote no chunk has no shadow; one left by an abandoned pass goes.
      if (c.checkpoint.mode === "full_refresh") {
        this.dropTable(sqliteTableName(shadowRef(c.table)));
        this.tables.delete(sqliteTableName(shadowRef(c.table)));
      }
      if (c.markUnseenDeletedBefore && table.exists) {
        deleted = this.db
          .prepare(`UPDATE ${quote(table.name)} SET ${quote(DELETED_AT)} = ? WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < ?`)
          .run(c.deletedAt, c.markUnseenDeletedBefore).changes;
      }
      this.saveState.run(c.table.namespace, c.table.entity, JSON.stringify(c.checkpoint), c.deletedAt);
    })();
    return { deleted };
  }

  async listTables(namespace: string): Promise<TableInfo[]> {
    const rows = (
      this.db
        .prepare(`SELECT table_name, entity FROM _mako_tables WHERE namespace = ? ORDER BY entity`)
        .all(namespace) as { table_name: string; entity: string }[]
    ).filter((r) => !isShadowEntity(r.entity));
    return rows.map(({ table_name, entity }) => {
      const columns = this.db
        .prepare(`SELECT name, type FROM pragma_table_info(?) ORDER BY cid`)
        .all(table_name) as { name: string; type: string }[];
      const { n } = this.db.prepare(`SELECT count(*) AS n FROM ${quote(table_name)}`).get() as { n: number };
      return { entity, table: table_name, rows: n, columns };
    });
  }

  async readRows(ref: TableRef, options: { limit: number; offset: number }): Promise<DataRecord[]> {
    const name = sqliteTableName(ref);
    const known = this.db.prepare(`SELECT 1 FROM _mako_tables WHERE table_name = ?`).get(name);
    if (!known) return [];
    return this.db
      .prepare(`SELECT * FROM ${quote(name)} ORDER BY rowid LIMIT ? OFFSET ?`)
      .all(options.limit, options.offset) as DataRecord[];
  }

  async test(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  // --- full refresh: shadow table -----------------------------------------------------

  /**
   * At a full-refresh pass's first chunk in this process, inside its transaction: a shadow left
   * by another pass is dropped; the shadow starts with the live table's columns. A resumed pass
   * keeps writing into its own shadow.
   */
  private prepareShadow(live: TableRef, shadow: Table, pass: EntityCheckpoint): void {
    const ready = `${shadow.name}\u0000${pass.passStartedAt}`;
    if (this.shadowsReady.has(ready)) return;
    if (!this.shadowIsOfPass(live, shadow, pass)) {
      this.dropTable(shadow.name);
      const source = this.table(live, shadow.primaryKey);
      shadow.exists = false;
      shadow.columns = [];
      shadow.byField = new Map();
      shadow.overflow = false;
      shadow.upsert = undefined;
      if (source.exists) {
        this.createTable(shadow.name, source.primaryKey, source.columns, source.overflow);
        shadow.overflow = source.overflow;
        this.saveSchema(shadow, source.columns);
      }
    }
    this.shadowsReady.add(ready); // forgotten if the chunk's transaction rolls back
  }

  private shadowIsOfPass(live: TableRef, shadow: Table, pass: EntityCheckpoint): boolean {
    if (!shadow.exists) return false;
    if (this.shadowsReady.has(`${shadow.name}\u0000${pass.passStartedAt}`)) return true;
    const stored = this.loadState.get(live.namespace, live.entity) as { checkpoint: string } | undefined;
    return stored !== undefined && shadowBelongsToPass(parseCheckpoint(stored.checkpoint, live), pass);
  }

  private dropTable(name: string): void {
    this.db.exec(`DROP TABLE IF EXISTS ${quote(name)}`);
    this.db.prepare(`DELETE FROM _mako_tables WHERE table_name = ?`).run(name);
    this.db.prepare(`DELETE FROM _mako_columns WHERE table_name = ?`).run(name);
  }

  /**
   * Completes a full refresh in one transaction: the live rows the pass did not see are copied
   * into the shadow (kept, marked deleted), the shadow replaces the live table, and the final
   * checkpoint is saved.
   */
  private swapShadow(c: EntityCompletion, shadow: Table): { deleted: number } {
    const live = this.table(c.table, c.primaryKey);
    let deleted = 0;
    try {
      this.db.transaction(() => {
        if (live.exists) {
          // The shadow began with the live columns and only grew or widened since.
          const pairs = live.columns.map((col) => {
            const target = shadow.byField.get(col.field)!;
            return [quote(target.name), convertSql(`l.${quote(col.name)}`, col.type, target.type)];
          });
          const keyColumns = new Set(shadow.primaryKey.map((k) => quote(shadow.byField.get(k)!.name)));
          const fill = pairs.filter(([column]) => !keyColumns.has(column));
          pairs.push([quote(SYNCED_AT), `l.${quote(SYNCED_AT)}`], [quote(DELETED_AT), `l.${quote(DELETED_AT)}`]);
          if (live.overflow && shadow.overflow) {
            pairs.push([quote(OVERFLOW), `l.${quote(OVERFLOW)}`]);
            fill.push([quote(OVERFLOW), `l.${quote(OVERFLOW)}`]);
          }
          const match = shadow.primaryKey
            .map((k) => `s.${quote(shadow.byField.get(k)!.name)} = l.${quote(live.byField.get(k)!.name)}`)
            .join(" AND ");
          const filling = fillDeletionsSql("from", quote(shadow.name), quote(live.name), fill, match, quote(DELETED_AT));
          if (filling) this.db.exec(filling);
          this.db.exec(
            `INSERT INTO ${quote(shadow.name)} (${pairs.map((p) => p[0]).join(", ")})
             SELECT ${pairs.map((p) => p[1]).join(", ")} FROM ${quote(live.name)} AS l
             WHERE NOT EXISTS (SELECT 1 FROM ${quote(shadow.name)} AS s WHERE ${match})`,
          );
        }
        if (c.markUnseenDeletedBefore) {
          deleted = this.db
            .prepare(`UPDATE ${quote(shadow.name)} SET ${quote(DELETED_AT)} = ? WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < ?`)
            .run(c.deletedAt, c.markUnseenDeletedBefore).changes;
        }
        this.dropTable(live.name);
        this.db.exec(`ALTER TABLE ${quote(shadow.name)} RENAME TO ${quote(live.name)}`);
        this.db
          .prepare(`UPDATE _mako_tables SET table_name = ?, entity = ? WHERE table_name = ?`)
          .run(live.name, c.table.entity, shadow.name);
        this.db.prepare(`UPDATE _mako_columns SET table_name = ? WHERE table_name = ?`).run(live.name, shadow.name);
        this.saveState.run(c.table.namespace, c.table.entity, JSON.stringify(c.checkpoint), c.deletedAt);
      })();
    } finally {
      this.tables.delete(live.name);
      this.tables.delete(shadow.name);
    }
    return { deleted };
  }

  // --- schema -------------------------------------------------------------------------

  private table(ref: TableRef, primaryKey: string[]): Table {
    const name = sqliteTableName(ref);
    const cached = this.tables.get(name);
    if (cached) return cached;
    const meta = this.db.prepare(`SELECT overflow FROM _mako_tables WHERE table_name = ?`).get(name) as
      | { overflow: number }
      | undefined;
    const columns = meta
      ? (this.db
          .prepare(`SELECT field, column_name AS name, type FROM _mako_columns WHERE table_name = ? ORDER BY position`)
          .all(name) as Column[])
      : [];
    const table: Table = {
      name,
      ref,
      primaryKey,
      exists: meta !== undefined,
      columns,
      byField: new Map(columns.map((c) => [c.field, c])),
      overflow: meta?.overflow === 1,
    };
    this.tables.set(name, table);
    return table;
  }

  /** Creates the table, adds new columns and widens changed ones, inside the caller's transaction. */
  private evolve(table: Table, observed: Map<string, ColumnType | undefined>): void {
    const added: Column[] = [];
    const widened: Column[] = [];
    const taken = new Set([...table.columns.map((c) => c.name.toLowerCase()), ...SYSTEM_COLUMNS]);
    for (const [field, type] of observed) {
      if (type === undefined) continue; // only nulls so far: nothing to create yet
      const existing = table.byField.get(field);
      if (existing) {
        const wider = widen(existing.type, type)!;
        if (wider !== existing.type) widened.push({ ...existing, type: wider });
      } else if (!table.overflow) {
        if (table.columns.length + added.length >= MAX_DATA_COLUMNS) {
          table.overflow = true;
          continue;
        }
        added.push({ field, name: freeName(field, taken), type });
      }
    }
    if (table.exists && added.length === 0 && widened.length === 0 && !this.overflowTurnedOn(table)) return;

    const missingKey = table.primaryKey.find((k) => !table.byField.has(k) && !added.some((c) => c.field === k));
    if (!table.exists && missingKey) {
      throw new Error(`cannot create table ${table.name}: primary key field "${missingKey}" has no value`);
    }
    const columns = table.columns.map((c) => widened.find((w) => w.field === c.field) ?? c).concat(added);
    if (!table.exists) this.createTable(table.name, table.primaryKey, columns, table.overflow);
    else if (widened.length > 0) this.rebuildTable(table, columns);
    else {
      for (const c of added) this.db.exec(`ALTER TABLE ${quote(table.name)} ADD COLUMN ${quote(c.name)} ${SQL_TYPE[c.type]}`);
      if (this.overflowTurnedOn(table)) this.db.exec(`ALTER TABLE ${quote(table.name)} ADD COLUMN ${quote(OVERFLOW)} TEXT`);
    }
    this.saveSchema(table, columns);
  }

  private overflowTurnedOn(table: Table): boolean {
    if (!table.overflow || !table.exists) return false;
    const cols = this.db.prepare(`SELECT 1 FROM pragma_table_info(?) WHERE name = ?`).get(table.name, OVERFLOW);
    return !cols;
  }

  private columnDefs(primaryKey: string[], columns: Column[], overflow: boolean): string {
    const defs = columns.map((c) => {
      const isKey = primaryKey.includes(c.field);
      // A lone INTEGER key becomes SQLite's rowid: the fastest upsert there is.
      return `${quote(c.name)} ${SQL_TYPE[c.type]}${isKey ? " NOT NULL" : ""}`;
    });
    defs.push(`${quote(SYNCED_AT)} TEXT NOT NULL`, `${quote(DELETED_AT)} TEXT`);
    if (overflow) defs.push(`${quote(OVERFLOW)} TEXT`);
    const keyColumns = primaryKey.map((k) => quote(columns.find((c) => c.field === k)!.name));
    defs.push(`PRIMARY KEY (${keyColumns.join(", ")})`);
    return defs.join(", ");
  }

  private createTable(name: string, primaryKey: string[], columns: Column[], overflow: boolean): void {
    this.db.exec(`CREATE TABLE ${quote(name)} (${this.columnDefs(primaryKey, columns, overflow)})`);
  }

  /** SQLite cannot change a column's type: copy into a new table, converting the widened columns. */
  private rebuildTable(table: Table, columns: Column[]): void {
    const tmp = `${table.name}__mako_rebuild`;
    this.db.exec(`DROP TABLE IF EXISTS ${quote(tmp)}`);
    this.createTable(tmp, table.primaryKey, columns, table.overflow);
    const before = new Map(table.columns.map((c) => [c.field, c.type]));
    const targets = [...table.columns.map((c) => c.name), SYNCED_AT, DELETED_AT];
    const sources = [
      ...table.columns.map((c) => convertSql(quote(c.name), before.get(c.field)!, columns.find((n) => n.field === c.field)!.type)),
      quote(SYNCED_AT),
      quote(DELETED_AT),
    ];
    if (table.overflow && !this.overflowTurnedOn(table)) {
      targets.push(OVERFLOW);
      sources.push(quote(OVERFLOW));
    }
    this.db.exec(
      `INSERT INTO ${quote(tmp)} (${targets.map(quote).join(", ")}) SELECT ${sources.join(", ")} FROM ${quote(table.name)}`,
    );
    this.db.exec(`DROP TABLE ${quote(table.name)}`);
    this.db.exec(`ALTER TABLE ${quote(tmp)} RENAME TO ${quote(table.name)}`);
  }

  private saveSchema(table: Table, columns: Column[]): void {
    this.db
      .prepare(
        `INSERT INTO _mako_tables (table_name, namespace, entity, primary_key, overflow) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (table_name) DO UPDATE SET overflow = excluded.overflow`,
      )
      .run(table.name, table.ref.namespace, table.ref.entity, JSON.stringify(table.primaryKey), table.overflow ? 1 : 0);
    const save = this.db.prepare(
      `INSERT INTO _mako_columns (table_name, field, column_name, type, position) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (table_name, field) DO UPDATE SET type = excluded.type`,
    );
    columns.forEach((c, i) => save.run(table.name, c.field, c.name, c.type, i));
    table.exists = true;
    table.columns = columns;
    table.byField = new Map(columns.map((c) => [c.field, c]));
    table.upsert = undefined;
  }

  // --- rows -----------------------------------------------------------------------------

  private upsertRows(table: Table, records: DataRecord[], syncedAt: string): void {
    if (!table.upsert) this.prepareUpsert(table);
    const { columns, overflow } = table;
    const convert = table.convert!;
    const n = columns.length;
    const width = n + (overflow ? 3 : 2);
    // Many rows per statement: one call into SQLite per block instead of per row.
    const block = table.rowsPerBlock!;
    const blockValues: unknown[] = new Array(width * block);
    const rowValues: unknown[] = new Array(width);
    let i = 0;
    const fill = (values: unknown[], at: number, record: DataRecord) => {
      for (let j = 0; j < n; j++) values[at + j] = convert[j](record[columns[j].field]);
      values[at + n] = syncedAt;
      values[at + n + 1] = (record[DELETED_AT] as string | undefined) ?? null;
      if (overflow) values[at + n + 2] = overflowOf(record, table.byField);
    };
    for (; i + block <= records.length; i += block) {
      for (let r = 0; r < block; r++) fill(blockValues, r * width, records[i + r]);
      table.upsertBlock!.run(blockValues);
    }
    for (; i < records.length; i++) {
      fill(rowValues, 0, records[i]);
      table.upsert!.run(rowValues);
    }
  }

  private prepareUpsert(table: Table): void {
    const names = [...table.columns.map((c) => c.name), SYNCED_AT, DELETED_AT];
    if (table.overflow) names.push(OVERFLOW);
    const keys = new Set(table.primaryKey.map((k) => table.byField.get(k)!.name));
    // A deletion often carries only the key: fields it lacks keep their stored value.
    const deletion = `excluded.${quote(DELETED_AT)} IS NOT NULL`;
    const updates = names
      .filter((n) => !keys.has(n))
      .map((n) => `${quote(n)} = CASE WHEN ${deletion} THEN coalesce(excluded.${quote(n)}, ${quote(table.name)}.${quote(n)}) ELSE excluded.${quote(n)} END`);
    const tuple = `(${names.map(() => "?").join(", ")})`;
    const statement = (rows: number) =>
      this.db.prepare(
        `INSERT INTO ${quote(table.name)} (${names.map(quote).join(", ")}) VALUES ${Array(rows).fill(tuple).join(", ")}
         ON CONFLICT (${[...keys].map(quote).join(", ")}) DO UPDATE SET ${updates.join(", ")}`,
      );
    // SQLite binds at most 32766 parameters per statement.
    table.rowsPerBlock = Math.max(1, Math.min(64, Math.floor(32_000 / names.length)));
    table.upsert = statement(1);
    table.upsertBlock = table.rowsPerBlock > 1 ? statement(table.rowsPerBlock) : table.upsert;
    table.convert = table.columns.map((c) => CONVERT[c.type]);
  }
}

/** The widest type seen per field across a chunk (undefined where only nulls were seen). */
function observeTypes(records: DataRecord[]): Map<string, ColumnType | undefined> {
  const types = new Map<string, ColumnType | undefined>();
  for (const record of records) {
    for (const field in record) {
      if (SYSTEM_COLUMNS.has(field)) continue;
      const t = typeOfValue(record[field]);
      const known = types.get(field);
      if (t !== known || !types.has(field)) types.set(field, widen(known, t));
    }
  }
  return types;
}

function freeName(field: string, taken: Set<string>): string {
  let name = field === "" ? "_" : field;
  for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${field}_${n}`;
  taken.add(name.toLowerCase());
  return name;
}

function overflowOf(record: DataRecord, byField: Map<string, Column>): string | null {
  let extra: DataRecord | undefined;
  for (const field in record) {
    if (byField.has(field) || SYSTEM_COLUMNS.has(field)) continue;
    (extra ??= {})[field] = record[field];
  }
  return extra ? JSON.stringify(extra) : null;
}

/** SQL converting a stored value of one type to a wider one. */
function convertSql(column: string, from: ColumnType, to: ColumnType): string {
  if (from === to) return column;
  if (to === "real") return `CAST(${column} AS REAL)`;
  if (to === "integer") return column;
  if (to === "text") {
    if (from === "boolean") return `CASE ${column} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END`;
    // SQLite prints a whole REAL as "1.0"; a record's 1 is written as "1" (String(1)) after the widening.
    if (from === "real") return `CASE WHEN ${column} = CAST(${column} AS INTEGER) THEN CAST(CAST(${column} AS INTEGER) AS TEXT) ELSE CAST(${column} AS TEXT) END`;
    return `CAST(${column} AS TEXT)`;
  }
  // to json
  if (from === "text") return `json_quote(${column})`;
  if (from === "boolean") return `CASE ${column} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END`;
  return `CAST(${column} AS TEXT)`;
}
