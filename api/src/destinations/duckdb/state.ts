import type { DuckDBConnection } from "@duckdb/node-api";
import type { StateStore, StoredState } from "../dialect";

/**
 * `_mako.state`. The engine sends one chunk at a time here, but a caller that does not still
 * gets only a checkpoint whose earlier chunks all committed: the row keeps pending chunks too.
 */
export const duckdbState: StateStore<DuckDBConnection> = {
  keepsPending: true,

  async read(connection, ref) {
    const reader = await connection.runAndReadAll(`SELECT checkpoint, pending, fence FROM _mako.state WHERE namespace = $1 AND entity = $2`, [
      ref.namespace,
      ref.entity,
    ]);
    const row = reader.getRows()[0] as [string | null, string | null, bigint | null] | undefined;
    return row ? { checkpoint: row[0], pending: row[1], fence: row[2] === null ? null : Number(row[2]) } : null;
  },

  /** One writer, one transaction at a time: reading is locking. */
  async lock(connection, ref) {
    return (await duckdbState.read(connection, ref)) ?? ({ checkpoint: null, pending: null, fence: null } satisfies StoredState);
  },

  async save(connection, ref, state) {
    await connection.run(
      `INSERT INTO _mako.state (namespace, entity, checkpoint, pending, updated_at, fence) VALUES ($1, $2, $3, $4, now(), $5)
       ON CONFLICT (namespace, entity) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, pending = EXCLUDED.pending,
         updated_at = EXCLUDED.updated_at, fence = EXCLUDED.fence`,
      [ref.namespace, ref.entity, state.checkpoint, state.pending, state.fence],
    );
  },

  async reset(connection, ref) {
    await connection.run(`DELETE FROM _mako.state WHERE namespace = $1 AND entity = $2`, [ref.namespace, ref.entity]);
  },

  async list(connection, namespace) {
    const reader = await connection.runAndReadAll(`SELECT entity FROM _mako.state WHERE namespace = $1 ORDER BY entity`, [namespace]);
    return reader.getRows().map(([entity]) => entity as string);
  },
};
