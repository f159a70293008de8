// Mako's records in PostgreSQL, schema `_mako`: `tables` and `columns` describe each table (by
// data source and entity, with its name), `state` holds each entity's checkpoint.

import type pg from "pg";
import type { TableRef } from "../Destination";
import type { Catalog, PhysicalName } from "../dialect";
import type { Column } from "../tableShape";
import { legacyTableName, tableName } from "./naming";

/** A recorded table's name: as recorded, or as an older Mako named it without recording it. */
function nameOf(ref: TableRef, recorded: string | null): PhysicalName {
  return recorded === null ? legacyTableName(ref) : { schema: tableName(ref).schema, name: recorded };
}

export async function setup(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
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
    // Each table's name (null in rows of an older Mako: then its names, see legacyTableName).
    // Checked first: ALTER TABLE would lock the table even when the column exists.
    const { rows } = await client.query(
      `SELECT 1 FROM information_schema.columns WHERE table_schema = '_mako' AND table_name = 'tables' AND column_name = 'table_name'`,
    );
    if (rows.length === 0) await client.query(`ALTER TABLE _mako.tables ADD COLUMN IF NOT EXISTS table_name text`);
    // The fence (see stateRow.ts) came after the first release: older databases get the column
    // here. Looked up first: ALTER TABLE locks the table whole even when the column exists, and
    // would wait for (and hold up) every chunk being committed by other processes.
    const fence = await client.query(`SELECT 1 FROM pg_attribute WHERE attrelid = '_mako.state'::regclass AND attname = 'fence' AND NOT attisdropped`);
    if (fence.rowCount === 0) await client.query(`ALTER TABLE _mako.state ADD COLUMN fence bigint`);
    // So did `_mako_version`: a table recorded before it has none until its next write adds it.
    const versioned = await client.query(`SELECT 1 FROM pg_attribute WHERE attrelid = '_mako.tables'::regclass AND attname = 'versioned' AND NOT attisdropped`);
    if (versioned.rowCount === 0) await client.query(`ALTER TABLE _mako.tables ADD COLUMN versioned boolean NOT NULL DEFAULT false`);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

export const postgresCatalog: Catalog<pg.PoolClient> = {
  async load(client, ref) {
    const meta = await client.query<{ table_name: string | null; primary_key: string; overflow: boolean; versioned: boolean; generation: number }>(
      `SELECT table_name, primary_key, overflow, versioned, generation FROM _mako.tables WHERE namespace = $1 AND entity = $2`,
      [ref.namespace, ref.entity],
    );
    if (!meta.rows[0]) return null;
    const cols = await client.query<Column>(
      `SELECT field, column_name AS name, type FROM _mako.columns WHERE namespace = $1 AND entity = $2 ORDER BY position`,
      [ref.namespace, ref.entity],
    );
    const { table_name, primary_key, overflow, versioned, generation } = meta.rows[0];
    return { name: nameOf(ref, table_name), primaryKey: JSON.parse(primary_key), shape: { columns: cols.rows, overflow, versioned }, generation };
  },

  async ownerOf(client, name) {
    const { rows } = await client.query<{ namespace: string; entity: string; table_name: string | null }>(
      `SELECT namespace, entity, table_name FROM _mako.tables WHERE namespace = $1`,
      [name.schema],
    );
    const owner = rows.find((r) => nameOf(r, r.table_name).name === name.name);
    return owner ? { namespace: owner.namespace, entity: owner.entity } : null;
  },

  async save(client, table, shape) {
    const { ref } = table;
    await client.query(
      `INSERT INTO _mako.tables (namespace, entity, primary_key, overflow, generation, table_name, versioned) VALUES ($1, $2, $3, $4, 1, $5, $6)
       ON CONFLICT (namespace, entity) DO UPDATE SET overflow = EXCLUDED.overflow, generation = _mako.tables.generation + 1, table_name = EXCLUDED.table_name,
         versioned = EXCLUDED.versioned`,
      [ref.namespace, ref.entity, JSON.stringify(table.primaryKey), shape.overflow, table.name.name, shape.versioned],
    );
    // One statement for every column: a 1,700-field record must not cost 1,700 round trips.
    await client.query(
      `INSERT INTO _mako.columns (namespace, entity, field, column_name, type, position)
       SELECT $1, $2, f, n, t, p FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS u(f, n, t, p)
       ON CONFLICT (namespace, entity, field) DO UPDATE SET type = EXCLUDED.type`,
      [ref.namespace, ref.entity, shape.columns.map((c) => c.field), shape.columns.map((c) => c.name), shape.columns.map((c) => c.type)],
    );
  },

  async forget(client, table) {
    for (const t of ["tables", "columns"]) {
      await client.query(`DELETE FROM _mako.${t} WHERE namespace = $1 AND entity = $2`, [table.ref.namespace, table.ref.entity]);
    }
  },

  async move(client, shadow, live) {
    const { namespace, entity } = live.ref;
    await client.query(`UPDATE _mako.tables SET entity = $2, generation = generation + $4 + 1, table_name = $5 WHERE namespace = $1 AND entity = $3`, [
      namespace,
      entity,
      shadow.ref.entity,
      live.generation,
      live.name.name,
    ]);
    await client.query(`UPDATE _mako.columns SET entity = $2 WHERE namespace = $1 AND entity = $3`, [namespace, entity, shadow.ref.entity]);
  },

  async list(client, namespace) {
    const { rows } = await client.query<{ entity: string; table_name: string | null }>(
      `SELECT entity, table_name FROM _mako.tables WHERE namespace = $1 ORDER BY entity`,
      [namespace],
    );
    return rows.map((r) => ({ entity: r.entity, name: nameOf({ namespace, entity: r.entity }, r.table_name) }));
  },
};
