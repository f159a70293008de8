import type mysql from "mysql2/promise";
import type { StateStore, StoredState } from "../dialect";

type Conn = mysql.PoolConnection;

/** `_mako_state`: each entity's checkpoint and the chunks committed ahead of it (two writers at once). */
export const mysqlState: StateStore<Conn> = {
  keepsPending: true,

  async read(conn, ref) {
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT checkpoint, pending, fence FROM _mako_state WHERE namespace = ? AND entity = ?", [
      ref.namespace,
      ref.entity,
    ]);
    const row = rows[0] as StoredState | undefined;
    // BIGINT may arrive as a string (mysql2's bigNumberStrings).
    return row ? { ...row, fence: row.fence === null ? null : Number(row.fence) } : null;
  },

  /** The upsert takes the row's lock: a chunk committing on the other connection waits here. */
  async lock(conn, ref) {
    await conn.query(
      "INSERT INTO _mako_state (namespace, entity) VALUES (?, ?) ON DUPLICATE KEY UPDATE updated_at = CURRENT_TIMESTAMP(6)",
      [ref.namespace, ref.entity],
    );
    return (await mysqlState.read(conn, ref))!;
  },

  async save(conn, ref, state) {
    await conn.query("UPDATE _mako_state SET checkpoint = ?, pending = ?, fence = ? WHERE namespace = ? AND entity = ?", [
      state.checkpoint,
      state.pending,
      state.fence,
      ref.namespace,
      ref.entity,
    ]);
  },

  async reset(conn, ref) {
    await conn.query("DELETE FROM _mako_state WHERE namespace = ? AND entity = ?", [ref.namespace, ref.entity]);
  },

  async list(conn, namespace) {
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT entity FROM _mako_state WHERE namespace = ? ORDER BY entity", [namespace]);
    return rows.map((r) => r.entity as string);
  },
};
