// SQLite's DDL, all of it inside the chunk's (or the swap's) transaction.

import type Database from "better-sqlite3";
import { DELETED_AT, SYNCED_AT, VERSION } from "../Destination";
import type { Ddl, ShadowSwap, Table } from "../dialect";
import { OVERFLOW, type TableShape } from "../tableShape";
import { quote, tableName } from "./naming";
import { SQL_TYPE, convertSql } from "./types";

type DB = Database.Database;

function columnDefs(primaryKey: string[], shape: TableShape): string {
  const defs = shape.columns.map((c) => {
    const isKey = primaryKey.includes(c.field);
    // A lone INTEGER key becomes SQLite's rowid: the fastest upsert there is.
    return `${quote(c.name)} ${SQL_TYPE[c.type]}${isKey ? " NOT NULL" : ""}`;
  });
  defs.push(`${quote(SYNCED_AT)} TEXT NOT NULL`, `${quote(DELETED_AT)} TEXT`);
  if (shape.overflow) defs.push(`${quote(OVERFLOW)} TEXT`);
  if (shape.versioned) defs.push(`${quote(VERSION)} INTEGER`);
  const keyColumns = primaryKey.map((k) => quote(shape.columns.find((c) => c.field === k)!.name));
  defs.push(`PRIMARY KEY (${keyColumns.join(", ")})`);
  return defs.join(", ");
}

const createTable = (db: DB, name: string, primaryKey: string[], shape: TableShape) =>
  db.exec(`CREATE TABLE ${quote(name)} (${columnDefs(primaryKey, shape)})`);

/** SQLite cannot change a column's type: copy into a new table, converting the widened columns. */
function rebuild(db: DB, table: Table, after: TableShape): void {
  const before = table.shape!;
  const name = table.name.name;
  const tmp = tableName(table.entity, table.role, "rebuild");
  db.exec(`DROP TABLE IF EXISTS ${quote(tmp)}`);
  createTable(db, tmp, table.primaryKey, after);
  const targets = [...before.columns.map((c) => c.name), SYNCED_AT, DELETED_AT];
  const sources = [
    ...before.columns.map((c) => convertSql(quote(c.name), c.type, after.columns.find((n) => n.field === c.field)!.type)),
    quote(SYNCED_AT),
    quote(DELETED_AT),
  ];
  if (before.overflow) {
    targets.push(OVERFLOW);
    sources.push(quote(OVERFLOW));
  }
  if (before.versioned) {
    targets.push(VERSION);
    sources.push(quote(VERSION));
  }
  db.exec(`INSERT INTO ${quote(tmp)} (${targets.map(quote).join(", ")}) SELECT ${sources.join(", ")} FROM ${quote(name)}`);
  db.exec(`DROP TABLE ${quote(name)}`);
  db.exec(`ALTER TABLE ${quote(tmp)} RENAME TO ${quote(name)}`);
}

export const sqliteDdl: Ddl<DB> = {
  create(db, table, shape) {
    createTable(db, table.name.name, table.primaryKey, shape);
  },

  alter(db, table, after, change) {
    if (change.widened.length > 0) return rebuild(db, table, after);
    const name = quote(table.name.name);
    for (const c of change.added) db.exec(`ALTER TABLE ${name} ADD COLUMN ${quote(c.name)} ${SQL_TYPE[c.type]}`);
    if (change.overflowOn) db.exec(`ALTER TABLE ${name} ADD COLUMN ${quote(OVERFLOW)} TEXT`);
    if (change.versionOn) db.exec(`ALTER TABLE ${name} ADD COLUMN ${quote(VERSION)} INTEGER`);
  },

  createLike(db, source, target) {
    createTable(db, target.name.name, source.primaryKey, source.shape!);
  },

  drop(db, name) {
    db.exec(`DROP TABLE IF EXISTS ${quote(name.name)}`);
  },

  rename(db, from, to) {
    db.exec(`ALTER TABLE ${quote(from.name)} RENAME TO ${quote(to.name)}`);
  },

  widenValue: convertSql,
  updateJoin: "from",

  dropNamespace(db, namespace) {
    const tables = db.prepare(`SELECT table_name FROM _mako_tables WHERE namespace = ?`).all(namespace) as { table_name: string }[];
    for (const { table_name } of tables) {
      db.exec(`DROP TABLE IF EXISTS ${quote(table_name)}`);
      db.prepare(`DELETE FROM _mako_columns WHERE table_name = ?`).run(table_name);
    }
    for (const t of ["_mako_tables", "_mako_state"]) db.prepare(`DELETE FROM ${t} WHERE namespace = ?`).run(namespace);
  },
};

/** SQLite's DDL is transactional: the swap drops the live table and renames the shadow in one transaction. */
export const sqliteSwap: ShadowSwap<DB> = {
  transactional: true,
  replace(db, live, shadow) {
    db.exec(`DROP TABLE IF EXISTS ${quote(live.name.name)}`);
    db.exec(`ALTER TABLE ${quote(shadow.name.name)} RENAME TO ${quote(live.name.name)}`);
  },
};
