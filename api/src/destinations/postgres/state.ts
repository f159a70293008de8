import type pg from "pg";
import type { StateStore, StoredState } from "../dialect";

/** `_mako.state`: each entity's checkpoint and the chunks committed ahead of it (two writers at once). */
export const postgresState: StateStore<pg.PoolClient> = {
  keepsPending: true,

  async read(client, ref) {
    const { rows } = await client.query<StoredState>(`SELECT checkpoint, pending, fence FROM _mako.state WHERE namespace = $1 AND entity = $2`, [
      ref.namespace,
      ref.entity,
    ]);
    return rows[0] ? withFence(rows[0]) : null;
  },

  /** The upsert takes the row's lock: a chunk committing on the other connection waits here. */
  async lock(client, ref) {
    const { rows } = await client.query<StoredState>(
      `INSERT INTO _mako.state (namespace, entity) VALUES ($1, $2)
       ON CONFLICT (namespace, entity) DO UPDATE SET updated_at = now()
       RETURNING checkpoint, pending, fence`,
      [ref.namespace, ref.entity],
    );
    return withFence(rows[0]);
  },

  async save(client, ref, state) {
    await client.query(`UPDATE _mako.state SET checkpoint = $3, pending = $4, fence = $5 WHERE namespace = $1 AND entity = $2`, [
      ref.namespace,
      ref.entity,
      state.checkpoint,
      state.pending,
      state.fence,
    ]);
  },

  async reset(client, ref) {
    await client.query(`DELETE FROM _mako.state WHERE namespace = $1 AND entity = $2`, [ref.namespace, ref.entity]);
  },

  async list(client, namespace) {
    const { rows } = await client.query<{ entity: string }>(`SELECT entity FROM _mako.state WHERE namespace = $1 ORDER BY entity`, [namespace]);
    return rows.map((r) => r.entity);
  },
};

/** bigint arrives as text unless a parser says otherwise. */
const withFence = (row: StoredState): StoredState => ({ ...row, fence: row.fence === null ? null : Number(row.fence) });
