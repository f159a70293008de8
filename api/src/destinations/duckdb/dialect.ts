import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { Dialect } from "../dialect";
import { duckdbCatalog } from "./catalog";
import { duckdbDdl, duckdbSwap } from "./ddl";
import { DuckdbDriver } from "./driver";
import { duckdbIntrospect } from "./introspect";
import { duckdbNaming } from "./naming";
import { type DuckdbWriter, duckdbRows } from "./rows";
import { duckdbState } from "./state";
import { duckdbShape } from "./types";

/** DuckDB: one writer per file, calls queued on one connection; schema changes inside the chunk's transaction. */
export function duckdbDialect(instance: DuckDBInstance, connection: DuckDBConnection): Dialect<DuckDBConnection, DuckdbWriter> {
  return {
    kind: "duckdb",
    writeConcurrency: 1,
    schemaChanges: "in-chunk",
    driver: new DuckdbDriver(instance, connection),
    naming: duckdbNaming,
    shape: duckdbShape,
    catalog: duckdbCatalog,
    state: duckdbState,
    ddl: duckdbDdl,
    swap: duckdbSwap,
    rows: duckdbRows,
    introspect: duckdbIntrospect,
  };
}
