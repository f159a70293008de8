// MySQL's DDL cannot join a transaction, so a full refresh's swap takes two steps: the
// completion's transaction moves the metadata, saves the checkpoint and a swap mark; then one
// atomic RENAME TABLE puts the shadow in the live table's place. A crash between the two is
// finished by the next write or refresh of the entity (`finish`, under the schema lock).

import type mysql from "mysql2/promise";
import type { TableRef } from "../Destination";
import type { ShadowSwap } from "../dialect";
import { tableExists } from "./introspect";
import { quote, tableName } from "./naming";

type Conn = mysql.PoolConnection;

/** Marks, in `_mako_tables`, a swap committed but whose RENAME TABLE may not have run yet. */
export const SWAP_SUFFIX = "__mako_swap";

/** Runs (or finishes, after a crash) the RENAME TABLE of a committed swap: live → old and shadow → live at once, then drops the old table. */
async function finishSwap(conn: Conn, live: TableRef): Promise<void> {
  const [marks] = await conn.query<mysql.RowDataPacket[]>("SELECT table_name FROM _mako_tables WHERE namespace = ? AND entity = ?", [
    live.namespace,
    live.entity + SWAP_SUFFIX,
  ]);
  if (marks.length === 0) return;
  const shadow = marks[0].table_name as string;
  // The name the live table's record keeps (a table created under an older naming keeps its own).
  const [records] = await conn.query<mysql.RowDataPacket[]>("SELECT table_name FROM _mako_tables WHERE namespace = ? AND entity = ?", [
    live.namespace,
    live.entity,
  ]);
  const liveName = (records[0]?.table_name as string | undefined) ?? tableName(live);
  const old = tableName(live, "live", "old");
  if (await tableExists(conn, shadow)) {
    await conn.query(`DROP TABLE IF EXISTS ${quote(old)}`);
    if (await tableExists(conn, liveName)) await conn.query(`RENAME TABLE ${quote(liveName)} TO ${quote(old)}, ${quote(shadow)} TO ${quote(liveName)}`);
    else await conn.query(`RENAME TABLE ${quote(shadow)} TO ${quote(liveName)}`);
  }
  await conn.query(`DROP TABLE IF EXISTS ${quote(old)}`);
  await conn.query("DELETE FROM _mako_tables WHERE namespace = ? AND entity = ?", [live.namespace, live.entity + SWAP_SUFFIX]);
}

export const mysqlSwap: ShadowSwap<Conn> = {
  transactional: false,
  async mark(conn, live, shadow) {
    await conn.query(`INSERT INTO _mako_tables (namespace, entity, table_name, primary_key, overflow, generation) VALUES (?, ?, ?, '[]', 0, 0)`, [
      live.ref.namespace,
      live.ref.entity + SWAP_SUFFIX,
      shadow.name.name,
    ]);
  },
  finish: finishSwap,
};
