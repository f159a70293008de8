import type { DuckDBConnection } from "@duckdb/node-api";
import type { DataRecord } from "../../connectors/base/types";
import type { Introspector } from "../dialect";
import { keyColumns, qualified } from "../tables";
import { OVERFLOW } from "../tableShape";
import { quote } from "./naming";
import { fromDuck } from "./types";

export const duckdbIntrospect: Introspector<DuckDBConnection> = {
  async columns(connection, name) {
    const reader = await connection.runAndReadAll(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [name.schema!, name.name],
    );
    return reader.getRows().map(([column, type]) => ({ name: column as string, type: type as string }));
  },

  async count(connection, name) {
    const reader = await connection.runAndReadAll(`SELECT count(*) FROM ${qualified(quote, name)}`);
    return Number(reader.getRows()[0][0]);
  },

  async readRows(connection, table, options) {
    const shape = table.shape!;
    const json = new Set(shape.columns.filter((c) => c.type === "json").map((c) => c.name));
    if (shape.overflow) json.add(OVERFLOW);
    const order = keyColumns(table).map(quote).join(", ");
    const reader = await connection.runAndReadAll(`SELECT * FROM ${qualified(quote, table.name)} ORDER BY ${order} LIMIT $1 OFFSET $2`, [
      options.limit,
      options.offset,
    ]);
    const names = reader.columnNames();
    return reader.getRows().map((row) => {
      const record: DataRecord = {};
      row.forEach((v, i) => (record[names[i]] = fromDuck(v, json.has(names[i]))));
      return record;
    });
  },
};
