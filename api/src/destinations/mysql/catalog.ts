// Mako's records in the URL's database: `_mako_tables` and `_mako_columns` describe each table
// (by data source and entity, with its physical name), `_mako_state` holds each entity's checkpoint.

import type mysql from "mysql2/promise";
import type { Catalog } from "../dialect";
import type { Column } from "../tableShape";
import { SWAP_SUFFIX } from "./swap";
import { jsonDepthOf } from "./types";

type Conn = mysql.PoolConnection;

/** What the server allows, read once when the destination opens. */
export interface ServerLimits {
  /** The largest statement worth sending (half of max_allowed_packet: the estimate of a statement's size is rough). */
  maxStatementBytes: number;
  /** max_allowed_packet: no statement, so no single row, can be larger. */
  maxPacketBytes: number;
  /** Levels of nesting a JSON column takes (types.ts jsonDepthOf). */
  jsonDepth: number;
}

/** Creates Mako's tables (and brings older ones up to date); the server's limits. */
export async function setup(pool: mysql.Pool): Promise<ServerLimits> {
  const [[db]] = await pool.query<mysql.RowDataPacket[]>("SELECT DATABASE() AS name, @@max_allowed_packet AS packet, VERSION() AS version");
  if (!db.name) throw new Error("the URL names no database (mysql://user@host:3306/DATABASE)");
  const opts = "DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_bin";
  await pool.query(`CREATE TABLE IF NOT EXISTS _mako_state (
    namespace VARCHAR(255) NOT NULL, entity VARCHAR(255) NOT NULL, checkpoint LONGTEXT, pending LONGTEXT,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (namespace, entity)) ${opts}`);
  await pool.query(`CREATE TABLE IF NOT EXISTS _mako_tables (
    namespace VARCHAR(255) NOT NULL, entity VARCHAR(255) NOT NULL, table_name VARCHAR(64) NOT NULL,
    primary_key TEXT NOT NULL, overflow BOOLEAN NOT NULL DEFAULT FALSE, generation INT NOT NULL DEFAULT 0,
    PRIMARY KEY (namespace, entity)) ${opts}`);
  // A field name is as long as a source makes it: not part of an index (InnoDB keys are 3,072 bytes).
  await pool.query(`CREATE TABLE IF NOT EXISTS _mako_columns (
    namespace VARCHAR(255) NOT NULL, entity VARCHAR(255) NOT NULL, field LONGTEXT NOT NULL,
    column_name VARCHAR(64) NOT NULL, type VARCHAR(16) NOT NULL, position INT NOT NULL,
    PRIMARY KEY (namespace, entity, position)) ${opts}`);
  await widenFieldColumn(pool);
  // The fence (see stateRow.ts) came after the first release: older databases get the column
  // here (MySQL 8 has no ADD COLUMN IF NOT EXISTS).
  const [fence] = await pool.query<mysql.RowDataPacket[]>(
    "SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '_mako_state' AND column_name = 'fence'",
  );
  if (fence.length === 0) await pool.query("ALTER TABLE _mako_state ADD COLUMN fence BIGINT NULL");
  // So did `_mako_version`: a table recorded before it has none until its next write adds it.
  const [versioned] = await pool.query<mysql.RowDataPacket[]>(
    "SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '_mako_tables' AND column_name = 'versioned'",
  );
  if (versioned.length === 0) await pool.query("ALTER TABLE _mako_tables ADD COLUMN versioned BOOLEAN NOT NULL DEFAULT FALSE");
  const packet = Number(db.packet);
  return { maxStatementBytes: Math.max(64 << 10, Math.min(packet / 2, 32 << 20)), maxPacketBytes: packet, jsonDepth: jsonDepthOf(String(db.version)) };
}

/** `_mako_columns` of an older Mako kept fields in VARCHAR(255), part of its key: a longer field name failed. */
async function widenFieldColumn(pool: mysql.Pool): Promise<void> {
  const [[column]] = await pool.query<mysql.RowDataPacket[]>(
    "SELECT DATA_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_mako_columns' AND COLUMN_NAME = 'field'",
  );
  if (column?.type !== "varchar") return;
  // Positions are unique per entity: columns are only ever appended. Should the records say
  // otherwise, the old table stays as it was (fields up to 255 characters) rather than the
  // destination failing to open.
  await pool
    .query("ALTER TABLE _mako_columns MODIFY field LONGTEXT NOT NULL, DROP PRIMARY KEY, ADD PRIMARY KEY (namespace, entity, position)")
    .catch(() => {});
}

export const mysqlCatalog: Catalog<Conn> = {
  async load(conn, ref) {
    const [meta] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT table_name, primary_key, overflow, versioned, generation FROM _mako_tables WHERE namespace = ? AND entity = ?",
      [ref.namespace, ref.entity],
    );
    if (!meta[0]) return null;
    const [cols] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT field, column_name AS name, type FROM _mako_columns WHERE namespace = ? AND entity = ? ORDER BY position",
      [ref.namespace, ref.entity],
    );
    return {
      name: { schema: null, name: meta[0].table_name },
      primaryKey: JSON.parse(meta[0].primary_key),
      shape: { columns: cols as Column[], overflow: meta[0].overflow === 1, versioned: meta[0].versioned === 1 },
      generation: meta[0].generation,
    };
  },

  // Compared ignoring case: with lower_case_table_names (Windows, macOS) MySQL folds them.
  async ownerOf(conn, name) {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      "SELECT namespace, entity FROM _mako_tables WHERE LOWER(table_name) = LOWER(?) AND entity NOT LIKE ? LIMIT 1",
      [name.name, `%${SWAP_SUFFIX.replaceAll("_", "\\_")}`],
    );
    return rows[0] ? { namespace: rows[0].namespace as string, entity: rows[0].entity as string } : null;
  },

  async save(conn, table, shape) {
    const { ref } = table;
    await conn.query(
      `INSERT INTO _mako_tables (namespace, entity, table_name, primary_key, overflow, versioned, generation) VALUES (?, ?, ?, ?, ?, ?, 1)
       ON DUPLICATE KEY UPDATE overflow = VALUES(overflow), versioned = VALUES(versioned), generation = generation + 1`,
      [ref.namespace, ref.entity, table.name.name, JSON.stringify(table.primaryKey), shape.overflow, shape.versioned],
    );
    const rows = shape.columns.map((c, i) => [ref.namespace, ref.entity, c.field, c.name, c.type, i]);
    await conn.query(
      "INSERT INTO _mako_columns (namespace, entity, field, column_name, type, position) VALUES ? ON DUPLICATE KEY UPDATE field = VALUES(field), column_name = VALUES(column_name), type = VALUES(type)",
      [rows],
    );
  },

  async forget(conn, table) {
    for (const t of ["_mako_tables", "_mako_columns"]) {
      await conn.query(`DELETE FROM ${t} WHERE namespace = ? AND entity = ?`, [table.ref.namespace, table.ref.entity]);
    }
  },

  async move(conn, shadow, live) {
    const { namespace, entity } = live.ref;
    await conn.query("UPDATE _mako_tables SET entity = ?, table_name = ?, generation = generation + ? + 1 WHERE namespace = ? AND entity = ?", [
      entity,
      live.name.name,
      live.generation,
      namespace,
      shadow.ref.entity,
    ]);
    await conn.query("UPDATE _mako_columns SET entity = ? WHERE namespace = ? AND entity = ?", [entity, namespace, shadow.ref.entity]);
  },

  async list(conn, namespace) {
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT entity, table_name FROM _mako_tables WHERE namespace = ? ORDER BY entity", [
      namespace,
    ]);
    return rows
      .filter((r) => !(r.entity as string).endsWith(SWAP_SUFFIX)) // a swap's mark, not a table
      .map((r) => ({ entity: r.entity as string, name: { schema: null, name: r.table_name as string } }));
  },
};
