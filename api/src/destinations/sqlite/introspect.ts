import type Database from "better-sqlite3";
import type { DataRecord } from "../../connectors/base/types";
import type { Introspector } from "../dialect";
import { quote } from "./naming";

export const sqliteIntrospect: Introspector<Database.Database> = {
  columns: (db, name) => db.prepare(`SELECT name, type FROM pragma_table_info(?) ORDER BY cid`).all(name.name) as { name: string; type: string }[],
  count: (db, name) => (db.prepare(`SELECT count(*) AS n FROM ${quote(name.name)}`).get() as { n: number }).n,
  readRows: (db, table, options) =>
    db.prepare(`SELECT * FROM ${quote(table.name.name)} ORDER BY rowid LIMIT ? OFFSET ?`).all(options.limit, options.offset) as DataRecord[],
};
