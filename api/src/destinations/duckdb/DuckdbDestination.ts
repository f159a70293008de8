import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DialectDestination } from "../DialectDestination";
import { setup } from "./catalog";
import { duckdbDialect } from "./dialect";
import type { DuckdbWriter } from "./rows";

export { quote } from "./naming";

/**
 * DuckDB destination: schema per data source, table per entity. Each chunk is appended to a
 * temporary staging table and merged with INSERT … ON CONFLICT DO UPDATE, in one transaction
 * with the entity's checkpoint (schema `_mako`, table `state`). DuckDB has one writer per
 * file, so chunks are written one at a time.
 */
export class DuckdbDestination extends DialectDestination<DuckDBConnection, DuckdbWriter> {
  static async open(path: string): Promise<DuckdbDestination> {
    let instance: DuckDBInstance;
    try {
      if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
      instance = await DuckDBInstance.create(path);
    } catch (err) {
      throw new Error(`cannot open DuckDB database ${path}: ${err.message}`);
    }
    const connection = await instance.connect();
    await setup(connection);
    return new DuckdbDestination(instance, connection);
  }

  private constructor(
    readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
  ) {
    super(duckdbDialect(instance, connection));
  }
}
