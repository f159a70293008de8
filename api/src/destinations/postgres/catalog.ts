// Mako's records in PostgreSQL, schema `_mako`: `tables` and `columns` describe each table (by
// data source and entity), `state` holds each entity's checkpoint.

import type pg from "pg";
import type { Catalog } from "../dialect";
import type { Column } from "../tableShape";

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
    // The fence (see stateRow.ts) came after the first release: older databases get the column
    // here. Looked up first: ALTER TABLE locks the table whole even when the column exists, and
    // would wait for (and hold up) every chunk being committed by other processes.
    const fence = await client.query(`SELECT 1 FROM pg_attribute WHERE attrelid = '_mako.state'::regclass AND attname = 'fence' AND NOT attisdropped`);
    if (fence.rowCount === 0) await client.query(`ALTER TABLE _mako.state ADD COLUMN fence bigint`);
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
    const meta = await client.query<{ primary_key: string; overflow: boolean; generation: number }>(
      `SELECT primary_key, overflow, generation FROM _mako.tables WHERE namespace = $1 AND entity = $2`,
      [ref.namespace, ref.entity],
    );
    if (!meta.rows[0]) return null;
    const cols = await client.query<Column>(
      `SELECT field, column_name AS name, type FROM _mako.columns WHERE namespace = $1 AND entity = $2 ORDER BY position`,
      [ref.namespace, ref.entity],
    );
    const { primary_key, overflow, generation } = meta.rows[0];
    return { primaryKey: JSON.parse(primary_key), shape: { columns: cols.rows, overflow }, generation };
  },

  async save(client, table, shape) {
    const { ref } = table;
    await client.query(
      `INSERT INTO _mako.tables (namespace, entity, primary_key, overflow, generation) VALUES ($1, $2, $3, $4, 1)
       ON CONFLICT (namespace, entity) DO UPDATE SET overflow = EXCLUDED.overflow, generation = _mako.tables.generation + 1`,
      [ref.namespace, ref.entity, JSON.stringify(table.primaryKey), shape.overflow],
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
    await client.query(`UPDATE _mako.tables SET entity = $2, generation = generation + $4 + 1 WHERE namespace = $1 AND entity = $3`, [
      namespace,
      entity,
      shadow.ref.entity,
      live.generation,
    ]);
    await client.query(`UPDATE _mako.columns SET entity = $2 WHERE namespace = $1 AND entity = $3`, [namespace, entity, shadow.ref.entity]);
  },

  async list(client, namespace) {
    const { rows } = await client.query<{ entity: string }>(`SELECT entity FROM _mako.tables WHERE namespace = $1 ORDER BY entity`, [namespace]);
    return rows;
  },
};
