import type pg from "pg";
import type { Dialect } from "../dialect";
import { postgresCatalog } from "./catalog";
import { postgresDdl, postgresSwap } from "./ddl";
import { PostgresDriver } from "./driver";
import { postgresIntrospect } from "./introspect";
import { postgresNaming } from "./naming";
import { type BulkMethod, postgresRows } from "./rows";
import { postgresState } from "./state";
import { postgresShape } from "./types";
import type { PgWriter } from "./writer";

/**
 * PostgreSQL: chunks on several connections at once; schema changes commit first, under the data
 * source's advisory lock, so each writer sees them before its rows.
 */
export function postgresDialect(pool: pg.Pool, options: { connections: number; bulk: BulkMethod }): Dialect<pg.PoolClient, PgWriter> {
  return {
    kind: "postgres",
    writeConcurrency: options.connections,
    schemaChanges: "locked",
    driver: new PostgresDriver(pool),
    naming: postgresNaming,
    shape: postgresShape,
    catalog: postgresCatalog,
    state: postgresState,
    ddl: postgresDdl,
    swap: postgresSwap,
    rows: postgresRows(options.bulk),
    introspect: postgresIntrospect,
  };
}
