// PostgreSQL's DDL: transactional, run in a schema section under the data source's advisory lock.

import type pg from "pg";
import { DELETED_AT, SYNCED_AT, VERSION } from "../Destination";
import type { Ddl, ShadowSwap } from "../dialect";
import { qualified } from "../tables";
import { OVERFLOW, type TableShape } from "../tableShape";
import { postgresCatalog } from "./catalog";
import { quote, tableName } from "./naming";
import { SQL_TYPE, widenUsing } from "./types";

function columnDefs(primaryKey: string[], shape: TableShape): string {
  const defs = shape.columns.map((c) => `${quote(c.name)} ${SQL_TYPE[c.type]}${primaryKey.includes(c.field) ? " NOT NULL" : ""}`);
  defs.push(`${quote(SYNCED_AT)} timestamptz NOT NULL`, `${quote(DELETED_AT)} timestamptz`);
  if (shape.overflow) defs.push(`${quote(OVERFLOW)} jsonb`);
  if (shape.versioned) defs.push(`${quote(VERSION)} bigint`);
  const keys = primaryKey.map((k) => quote(shape.columns.find((c) => c.field === k)!.name));
  defs.push(`PRIMARY KEY (${keys.join(", ")})`);
  return defs.join(", ");
}

export const postgresDdl: Ddl<pg.PoolClient> = {
  async create(client, table, shape) {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(table.name.schema!)}`);
    await client.query(`CREATE TABLE ${qualified(quote, table.name)} (${columnDefs(table.primaryKey, shape)})`);
  },

  async alter(client, table, _after, change) {
    const actions = [
      ...change.added.map((c) => `ADD COLUMN ${quote(c.name)} ${SQL_TYPE[c.type]}`),
      ...change.widened.map((c) => `ALTER COLUMN ${quote(c.name)} TYPE ${SQL_TYPE[c.type]} USING ${widenUsing(quote(c.name), c.from, c.type)}`),
    ];
    if (change.overflowOn) actions.push(`ADD COLUMN ${quote(OVERFLOW)} jsonb`);
    if (change.versionOn) actions.push(`ADD COLUMN ${quote(VERSION)} bigint`);
    if (actions.length > 0) await client.query(`ALTER TABLE ${qualified(quote, table.name)} ${actions.join(", ")}`);
  },

  async createLike(client, source, target) {
    await client.query(`CREATE TABLE ${qualified(quote, target.name)} (LIKE ${qualified(quote, source.name)} INCLUDING ALL)`);
  },

  async drop(client, name) {
    await client.query(`DROP TABLE IF EXISTS ${qualified(quote, name)}`);
  },

  async rename(client, from, to) {
    await client.query(`ALTER TABLE ${qualified(quote, from)} RENAME TO ${quote(to.name)}`);
  },

  widenValue: widenUsing,
  updateJoin: "from",

  async dropNamespace(client, namespace) {
    await client.query("BEGIN");
    try {
      for (const { entity, name } of await postgresCatalog.list(client, namespace)) {
        await client.query(`DROP TABLE IF EXISTS ${qualified(quote, name ?? tableName({ namespace, entity }))}`);
      }
      for (const t of ["tables", "columns", "state"]) await client.query(`DELETE FROM _mako.${t} WHERE namespace = $1`, [namespace]);
      // The schema goes too, unless it holds something else (a view of the owner's): then it stays.
      await client.query("SAVEPOINT schema_drop");
      await client.query(`DROP SCHEMA IF EXISTS ${quote(tableName({ namespace, entity: "_" }).schema!)}`).then(
        () => client.query("RELEASE SAVEPOINT schema_drop"),
        () => client.query("ROLLBACK TO SAVEPOINT schema_drop"),
      );
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    }
  },
};

/** PostgreSQL's DDL is transactional: the swap drops the live table and renames the shadow in one transaction. */
export const postgresSwap: ShadowSwap<pg.PoolClient> = {
  transactional: true,
  async replace(client, live, shadow) {
    await client.query(`DROP TABLE IF EXISTS ${qualified(quote, live.name)}`);
    await client.query(`ALTER TABLE ${qualified(quote, shadow.name)} RENAME TO ${quote(live.name.name)}`);
  },
};
