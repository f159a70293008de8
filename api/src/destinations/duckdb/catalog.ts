// Mako's records in the DuckDB file, schema `_mako`: `tables` and `columns` describe each table
// (by data source and entity), `state` holds each entity's checkpoint.

import type { DuckDBConnection } from "@duckdb/node-api";
import type { ColumnType } from "../columnTypes";
import type { Catalog } from "../dialect";

// Each chunk commits; with the default 16 MB threshold every few chunks would checkpoint,
// rewriting the primary-key index each time. The WAL holds the commits durably meanwhile.
const CHECKPOINT_THRESHOLD = "256MB";

export async function setup(connection: DuckDBConnection): Promise<void> {
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
      type VARCHAR NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (namespace, entity, field));
    -- The fence (see stateRow.ts) came after the first release: older files get the column here.
    ALTER TABLE _mako.state ADD COLUMN IF NOT EXISTS fence BIGINT;
    -- So did _mako_version: a table recorded before it has none until its next write adds it.
    ALTER TABLE _mako.tables ADD COLUMN IF NOT EXISTS versioned BOOLEAN DEFAULT false;`);
}

export const duckdbCatalog: Catalog<DuckDBConnection> = {
  async load(connection, ref) {
    const meta = (
      await connection.runAndReadAll(`SELECT primary_key, overflow, versioned FROM _mako.tables WHERE namespace = $1 AND entity = $2`, [ref.namespace, ref.entity])
    ).getRows()[0];
    if (!meta) return null;
    const cols = await connection.runAndReadAll(
      `SELECT field, column_name, type FROM _mako.columns WHERE namespace = $1 AND entity = $2 ORDER BY position`,
      [ref.namespace, ref.entity],
    );
    const columns = cols.getRows().map(([field, name, type]) => ({ field: field as string, name: name as string, type: type as ColumnType }));
    return { primaryKey: JSON.parse(meta[0] as string), shape: { columns, overflow: meta[1] as boolean, versioned: meta[2] === true }, generation: 0 };
  },

  // A table's name is its entity's (a shadow's record is under its name too); DuckDB ignores case.
  async ownerOf(connection, name) {
    const reader = await connection.runAndReadAll(
      `SELECT namespace, entity FROM _mako.tables WHERE lower(namespace) = lower($1) AND lower(entity) = lower($2) LIMIT 1`,
      [name.schema!, name.name],
    );
    const row = reader.getRows()[0];
    return row ? { namespace: row[0] as string, entity: row[1] as string } : null;
  },

  async save(connection, table, shape) {
    const { namespace, entity } = table.ref;
    await connection.run(
      `INSERT INTO _mako.tables (namespace, entity, primary_key, overflow, versioned) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (namespace, entity) DO UPDATE SET overflow = EXCLUDED.overflow, versioned = EXCLUDED.versioned`,
      [namespace, entity, JSON.stringify(table.primaryKey), shape.overflow, shape.versioned],
    );
    await connection.run(`DELETE FROM _mako.columns WHERE namespace = $1 AND entity = $2`, [namespace, entity]);
    const appender = await connection.createAppender("columns", "_mako");
    shape.columns.forEach((c, i) => {
      appender.appendVarchar(namespace);
      appender.appendVarchar(entity);
      appender.appendVarchar(c.field);
      appender.appendVarchar(c.name);
      appender.appendVarchar(c.type);
      appender.appendInteger(i);
      appender.endRow();
    });
    appender.closeSync();
  },

  async forget(connection, table) {
    for (const t of ["tables", "columns"]) {
      await connection.run(`DELETE FROM _mako.${t} WHERE namespace = $1 AND entity = $2`, [table.ref.namespace, table.ref.entity]);
    }
  },

  async move(connection, shadow, live) {
    for (const t of ["tables", "columns"]) {
      await connection.run(`UPDATE _mako.${t} SET entity = $2 WHERE namespace = $1 AND entity = $3`, [live.ref.namespace, live.ref.entity, shadow.ref.entity]);
    }
  },

  async list(connection, namespace) {
    const rows = (await connection.runAndReadAll(`SELECT entity FROM _mako.tables WHERE namespace = $1 ORDER BY entity`, [namespace])).getRows();
    return rows.map(([entity]) => ({ entity: entity as string }));
  },
};
