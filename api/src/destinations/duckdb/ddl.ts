// DuckDB's DDL, inside the chunk's (or the swap's) transaction.

import type { DuckDBConnection } from "@duckdb/node-api";
import { DELETED_AT, SYNCED_AT, VERSION } from "../Destination";
import type { Ddl, ShadowSwap, Table } from "../dialect";
import { qualified } from "../tables";
import { OVERFLOW, type TableShape } from "../tableShape";
import { quote } from "./naming";
import { SQL_TYPE } from "./types";

function columnDefs(primaryKey: string[], shape: TableShape): string {
  const defs = shape.columns.map((c) => `${quote(c.name)} ${SQL_TYPE[c.type]}${primaryKey.includes(c.field) ? " NOT NULL" : ""}`);
  defs.push(`${quote(SYNCED_AT)} TIMESTAMPTZ NOT NULL`, `${quote(DELETED_AT)} TIMESTAMPTZ`);
  if (shape.overflow) defs.push(`${quote(OVERFLOW)} JSON`);
  if (shape.versioned) defs.push(`${quote(VERSION)} BIGINT`);
  const keys = primaryKey.map((k) => quote(shape.columns.find((c) => c.field === k)!.name));
  defs.push(`PRIMARY KEY (${keys.join(", ")})`);
  return defs.join(", ");
}

async function create(connection: DuckDBConnection, table: Table, primaryKey: string[], shape: TableShape): Promise<void> {
  await connection.run(`CREATE SCHEMA IF NOT EXISTS ${quote(table.name.schema!)}`);
  await connection.run(`CREATE TABLE ${qualified(quote, table.name)} (${columnDefs(primaryKey, shape)})`);
}

export const duckdbDdl: Ddl<DuckDBConnection> = {
  create: (connection, table, shape) => create(connection, table, table.primaryKey, shape),

  async alter(connection, table, _after, change) {
    const name = qualified(quote, table.name);
    // DuckDB takes one action per ALTER TABLE.
    for (const c of change.added) await connection.run(`ALTER TABLE ${name} ADD COLUMN ${quote(c.name)} ${SQL_TYPE[c.type]}`);
    for (const c of change.widened) await connection.run(`ALTER TABLE ${name} ALTER COLUMN ${quote(c.name)} TYPE ${SQL_TYPE[c.type]}`);
    if (change.overflowOn) await connection.run(`ALTER TABLE ${name} ADD COLUMN ${quote(OVERFLOW)} JSON`);
    if (change.versionOn) await connection.run(`ALTER TABLE ${name} ADD COLUMN ${quote(VERSION)} BIGINT`);
  },

  createLike: (connection, source, target) => create(connection, target, source.primaryKey, source.shape!),

  async drop(connection, name) {
    await connection.run(`DROP TABLE IF EXISTS ${qualified(quote, name)}`);
  },

  async rename(connection, from, to) {
    await connection.run(`ALTER TABLE ${qualified(quote, from)} RENAME TO ${quote(to.name)}`);
  },

  widenValue: (sql, _from, to) => `CAST(${sql} AS ${SQL_TYPE[to]})`,
  updateJoin: "from",

  async dropNamespace(connection, namespace) {
    const entities = await connection.runAndReadAll(`SELECT entity FROM _mako.tables WHERE namespace = $1`, [namespace]);
    for (const [entity] of entities.getRows()) await connection.run(`DROP TABLE IF EXISTS ${qualified(quote, { schema: namespace, name: entity as string })}`);
    for (const t of ["tables", "columns", "state"]) await connection.run(`DELETE FROM _mako.${t} WHERE namespace = $1`, [namespace]);
    // The schema goes too, unless it holds something else (a view of the owner's): then it stays.
    await connection.run(`DROP SCHEMA IF EXISTS ${quote(namespace)}`).catch(() => {});
  },
};

/** DuckDB's DDL is transactional: the swap drops the live table and renames the shadow in one transaction. */
export const duckdbSwap: ShadowSwap<DuckDBConnection> = {
  transactional: true,
  async replace(connection, live, shadow) {
    await connection.run(`DROP TABLE IF EXISTS ${qualified(quote, live.name)}`);
    await connection.run(`ALTER TABLE ${qualified(quote, shadow.name)} RENAME TO ${quote(live.name.name)}`);
  },
};
