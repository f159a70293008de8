import type Database from "better-sqlite3";
import type { Dialect } from "../dialect";
import { setup, sqliteCatalog } from "./catalog";
import { sqliteDdl, sqliteSwap } from "./ddl";
import { SqliteDriver } from "./driver";
import { sqliteIntrospect } from "./introspect";
import { sqliteNaming } from "./naming";
import { type SqliteWriter, sqliteRows } from "./rows";
import { sqliteState } from "./state";
import { sqliteShape } from "./types";

/** SQLite: one file, one writer, synchronous calls; every schema change inside the chunk's transaction. */
export function sqliteDialect(db: Database.Database): Dialect<Database.Database, SqliteWriter> {
  setup(db);
  return {
    kind: "sqlite",
    writeConcurrency: 1,
    schemaChanges: "in-chunk",
    driver: new SqliteDriver(db),
    naming: sqliteNaming,
    shape: sqliteShape,
    catalog: sqliteCatalog,
    state: sqliteState(db),
    ddl: sqliteDdl,
    swap: sqliteSwap,
    rows: sqliteRows,
    introspect: sqliteIntrospect,
  };
}
