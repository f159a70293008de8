import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { TableRef } from "../Destination";
import { DialectDestination } from "../DialectDestination";
import { sqliteDialect } from "./dialect";
import { tableName } from "./naming";
import type { SqliteWriter } from "./rows";

export { quote } from "./naming";

/** `NAME__ENTITY`, as DESIGN.md names tables in SQLite. */
export const sqliteTableName = (ref: TableRef) => tableName(ref);

/**
 * The embedded destination: one SQLite file (WAL) holding synced tables and their
 * checkpoints. Each chunk's rows and checkpoint commit in one transaction.
 */
export class SqliteDestination extends DialectDestination<Database.Database, SqliteWriter> {
  static open(path: string): SqliteDestination {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: 5000 });
      db.pragma("journal_mode = WAL");
    } catch (err) {
      throw new Error(`cannot open SQLite database ${path}: ${err.message}`);
    }
    return new SqliteDestination(db);
  }

  constructor(readonly db: Database.Database) {
    super(sqliteDialect(db));
  }
}
