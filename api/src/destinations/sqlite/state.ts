import type Database from "better-sqlite3";
import type { StateStore, StoredState } from "../dialect";

/** `_mako_state`: one checkpoint per entity, stored as each chunk gives it (one writer commits chunks in order). */
export function sqliteState(db: Database.Database): StateStore<Database.Database> {
  const load = db.prepare(`SELECT checkpoint, fence FROM _mako_state WHERE namespace = ? AND entity = ?`);
  const save = db.prepare(
    `INSERT INTO _mako_state (namespace, entity, checkpoint, updated_at, fence) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (namespace, entity) DO UPDATE SET checkpoint = excluded.checkpoint, updated_at = excluded.updated_at, fence = excluded.fence`,
  );
  const read = (namespace: string, entity: string): StoredState | null => {
    const row = load.get(namespace, entity) as { checkpoint: string; fence: number | null } | undefined;
    // "" is the NOT NULL column's "no checkpoint yet" (a fence raised before the first chunk).
    return row ? { checkpoint: row.checkpoint || null, pending: null, fence: row.fence } : null;
  };
  return {
    keepsPending: false,
    read: (_db, ref) => read(ref.namespace, ref.entity),
    // A writing transaction locks the whole file: the row needs no lock of its own.
    lock: (_db, ref) => read(ref.namespace, ref.entity) ?? { checkpoint: null, pending: null, fence: null },
    save(_db, ref, state, at) {
      save.run(ref.namespace, ref.entity, state.checkpoint ?? "", at, state.fence);
    },
    reset(conn, ref) {
      conn.prepare(`DELETE FROM _mako_state WHERE namespace = ? AND entity = ?`).run(ref.namespace, ref.entity);
    },
    list(conn, namespace) {
      return conn.prepare(`SELECT entity FROM _mako_state WHERE namespace = ? ORDER BY entity`).pluck().all(namespace) as string[];
    },
  };
}
