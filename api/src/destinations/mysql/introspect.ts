import type mysql from "mysql2/promise";
import type { DataRecord } from "../../connectors/base/types";
import type { Introspector } from "../dialect";
import { keyColumns } from "../tables";
import { quote } from "./naming";

type Conn = mysql.PoolConnection;

export async function tableExists(conn: Conn, name: string): Promise<boolean> {
  const [rows] = await conn.query<mysql.RowDataPacket[]>("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", [
    name,
  ]);
  return rows.length > 0;
}

export const mysqlIntrospect: Introspector<Conn> = {
  async columns(conn, name) {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS
       WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [name.name],
    );
    return rows.map((c) => ({ name: c.name, type: c.type }));
  },

  async count(conn, name) {
    const [[count]] = await conn.query<mysql.RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${quote(name.name)}`);
    return Number(count.n);
  },

  async readRows(conn, table, options) {
    const order = keyColumns(table).map(quote).join(", ");
    const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT * FROM ${quote(table.name.name)} ORDER BY ${order} LIMIT ? OFFSET ?`, [
      options.limit,
      options.offset,
    ]);
    // JSON columns come back parsed: mysql2 reads MariaDB's JSON format metadata (10.5+) and MySQL's JSON type.
    return rows as DataRecord[];
  },
};
