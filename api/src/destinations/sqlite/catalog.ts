// Mako's records in the SQLite file: `_mako_tables` and `_mako_columns` describe each table
// (found by data source and entity; keyed by the table's name, which the record keeps),
// `_mako_state` holds each entity's checkpoint.

import type Database from "better-sqlite3";
import type { Catalog } from "../dialect";
import type { Column } from "../tableShape";

type DB = Database.Database;

export function setup(db: DB): void {
  // synchronous=NORMAL in WAL mode survives a killed process; only power loss may drop the
  // last commits, and then rows and checkpoint are dropped together.
  db.pragma("synchronous = NORMAL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS _mako_state (
      namespace TEXT NOT NULL, entity TEXT NOT NULL, checkpoint TEXT NOT NULL, updated_at TEXT NOT NULL,
      fence INTEGER, PRIMARY KEY (namespace, entity));
    CREATE TABLE IF NOT EXISTS _mako_tables (
      table_name TEXT PRIMARY KEY, namespace TEXT NOT NULL, entity TEXT NOT NULL,
      primary_key TEXT NOT NULL, overflow INTEGER NOT NULL DEFAULT 0, versioned INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE IF NOT EXISTS _mako_columns (
      table_name TEXT NOT NULL, field TEXT NOT NULL, column_name TEXT NOT NULL, type TEXT NOT NULL,
      position INTEGER NOT NULL, PRIMARY KEY (table_name, field));
  `);
  // The fence (see stateRow.ts) came after the first release: older files get the column here.
  const stateColumns = db.prepare(`SELECT name FROM pragma_table_info('_mako_state')`).pluck().all() as string[];
  if (!stateColumns.includes("fence")) db.exec(`ALTER TABLE _mako_state ADD COLUMN fence INTEGER`);
  // So did `_mako_version`: a table recorded before it has none until its next write adds it.
  const tableColumns = db.prepare(`SELECT name FROM pragma_table_info('_mako_tables')`).pluck().all() as string[];
  if (!tableColumns.includes("versioned")) db.exec(`ALTER TABLE _mako_tables ADD COLUMN versioned INTEGER NOT NULL DEFAULT 0`);
}

export const sqliteCatalog: Catalog<DB> = {
  load(db, ref) {
    const meta = db
      .prepare(`SELECT table_name, primary_key, overflow, versioned FROM _mako_tables WHERE namespace = ? AND entity = ? ORDER BY rowid LIMIT 1`)
      .get(ref.namespace, ref.entity) as { table_name: string; primary_key: string; overflow: number; versioned: number } | undefined;
    if (!meta) return null;
    const columns = db
      .prepare(`SELECT field, column_name AS name, type FROM _mako_columns WHERE table_name = ? ORDER BY position`)
      .all(meta.table_name) as Column[];
    return {
      name: { schema: null, name: meta.table_name },
      primaryKey: JSON.parse(meta.primary_key),
      shape: { columns, overflow: meta.overflow === 1, versioned: meta.versioned === 1 },
      generation: 0,
    };
  },

  // SQLite's table names ignore case: "a__Users" is "a__users".
  ownerOf(db, name) {
    const row = db.prepare(`SELECT namespace, entity FROM _mako_tables WHERE table_name = ? COLLATE NOCASE LIMIT 1`).get(name.name) as
      | { namespace: string; entity: string }
      | undefined;
    return row ?? null;
  },

  save(db, table, shape) {
    db.prepare(
      `INSERT INTO _mako_tables (table_name, namespace, entity, primary_key, overflow, versioned) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (table_name) DO UPDATE SET overflow = excluded.overflow, versioned = excluded.versioned`,
    ).run(table.name.name, table.ref.namespace, table.ref.entity, JSON.stringify(table.primaryKey), shape.overflow ? 1 : 0, shape.versioned ? 1 : 0);
    const save = db.prepare(
      `INSERT INTO _mako_columns (table_name, field, column_name, type, position) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (table_name, field) DO UPDATE SET type = excluded.type`,
    );
    shape.columns.forEach((c, i) => save.run(table.name.name, c.field, c.name, c.type, i));
  },

  forget(db, table) {
    db.prepare(`DELETE FROM _mako_tables WHERE table_name = ?`).run(table.name.name);
    db.prepare(`DELETE FROM _mako_columns WHERE table_name = ?`).run(table.name.name);
  },

  move(db, shadow, live) {
    db.prepare(`UPDATE _mako_tables SET table_name = ?, entity = ? WHERE table_name = ?`).run(live.name.name, live.ref.entity, shadow.name.name);
    db.prepare(`UPDATE _mako_columns SET table_name = ? WHERE table_name = ?`).run(live.name.name, shadow.name.name);
  },

  list(db, namespace) {
    const rows = db.prepare(`SELECT table_name, entity FROM _mako_tables WHERE namespace = ? ORDER BY entity`).all(namespace) as {
      table_name: string;
      entity: string;
    }[];
    return rows.map((r) => ({ entity: r.entity, name: { schema: null, name: r.table_name } }));
  },
};
