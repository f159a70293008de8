import type pg from "pg";
import type { Introspector } from "../dialect";
import { keyColumns, qualified } from "../tables";
import { quote } from "./naming";

export const postgresIntrospect: Introspector<pg.PoolClient> = {
  async columns(client, name) {
    const { rows } = await client.query<{ name: string; type: string }>(
      `SELECT column_name AS name, data_type AS type FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [name.schema, name.name],
    );
    return rows;
  },

  async count(client, name) {
    const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${qualified(quote, name)}`);
    return rows[0].n;
  },

  async readRows(client, table, options) {
    const order = keyColumns(table).map(quote).join(", ");
    const { rows } = await client.query(`SELECT * FROM ${qualified(quote, table.name)} ORDER BY ${order} LIMIT $1 OFFSET $2`, [
      options.limit,
      options.offset,
    ]);
    return rows;
  },
};
