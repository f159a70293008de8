// MySQL's DDL commits on its own: it runs before the chunk's transaction, in a schema section
// (a named lock), and only ever adds and widens, so it is harmless if the chunk then fails.
// Metadata is written after the DDL; a crash between them is repaired next time (below).

import type mysql from "mysql2/promise";
import { DELETED_AT, SYNCED_AT, VERSION } from "../Destination";
import type { Ddl } from "../dialect";
import { type Column, OVERFLOW, type TableShape } from "../tableShape";
import { tableExists } from "./introspect";
import { quote, tableName } from "./naming";
import { SQL_TYPE, columnType } from "./types";

type Conn = mysql.PoolConnection;

const ER_DUP_FIELDNAME = 1060;

function columnDefs(primaryKey: string[], shape: TableShape): string {
  const defs = shape.columns.map((c) => `${quote(c.name)} ${columnType(c, primaryKey.includes(c.field))}`);
  defs.push(`${quote(SYNCED_AT)} DATETIME(6) NOT NULL`, `${quote(DELETED_AT)} DATETIME(6) NULL`);
  if (shape.overflow) defs.push(`${quote(OVERFLOW)} JSON`);
  if (shape.versioned) defs.push(`${quote(VERSION)} BIGINT NULL`);
  const keys = primaryKey.map((k) => quote(shape.columns.find((c) => c.field === k)!.name));
  defs.push(`PRIMARY KEY (${keys.join(", ")})`);
  return defs.join(", ");
}

/**
 * A table without metadata is either left by a crash between CREATE TABLE and the metadata
 * write (then empty: no chunk commits before its metadata) or someone else's table.
 */
async function dropLeftover(conn: Conn, table: string): Promise<void> {
  if (!(await tableExists(conn, table))) return;
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

export const mysqlDdl: Ddl<Conn> = {
  async create(conn, table, shape) {
    await dropLeftover(conn, table.name.name);
    await conn.query(`CREATE TABLE ${quote(table.name.name)} (${columnDefs(table.primaryKey, shape)}) DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_bin`);
  },

  async alter(conn, table, _after, change) {
    const isKey = (c: Column) => table.primaryKey.includes(c.field);
    const adds = change.added.map((c) => `ADD COLUMN ${quote(c.name)} ${SQL_TYPE[c.type]}`);
    if (change.overflowOn) adds.push(`ADD COLUMN ${quote(OVERFLOW)} JSON`);
    if (change.versionOn) adds.push(`ADD COLUMN ${quote(VERSION)} BIGINT NULL`);
    const modifies = change.widened.map((c) => `MODIFY COLUMN ${quote(c.name)} ${columnType(c, isKey(c))}`);
    await alterEach(conn, table.name.name, adds, modifies);
  },

  async createLike(conn, source, target) {
    await conn.query(`CREATE TABLE ${quote(target.name.name)} LIKE ${quote(source.name.name)}`);
  },

  async drop(conn, name) {
    await conn.query(`DROP TABLE IF EXISTS ${quote(name.name)}`);
  },

  async rename(conn, from, to) {
    await conn.query(`RENAME TABLE ${quote(from.name)} TO ${quote(to.name)}`);
  },

  /** MySQL converts a value to the column's type on insert. */
  widenValue: (sql) => sql,
  updateJoin: "join",

  async dropNamespace(conn, namespace) {
    // Swap marks name a shadow; an interrupted swap may have left a live table's `old` one.
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT entity, table_name FROM _mako_tables WHERE namespace = ?", [namespace]);
    for (const { entity, table_name } of rows) {
      await conn.query(`DROP TABLE IF EXISTS ${quote(table_name)}`);
      await conn.query(`DROP TABLE IF EXISTS ${quote(tableName({ namespace, entity }, "live", "old"))}`);
    }
    for (const t of ["_mako_tables", "_mako_columns", "_mako_state"]) await conn.query(`DELETE FROM ${t} WHERE namespace = ?`, [namespace]);
  },
};
