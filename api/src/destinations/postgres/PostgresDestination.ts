import pg from "pg";
import { DialectDestination } from "../DialectDestination";
import { setup } from "./catalog";
import { postgresDialect } from "./dialect";
import type { BulkMethod } from "./rows";
import { getTypeParser } from "./types";
import type { PgWriter } from "./writer";

export { postgresTableName, quote } from "./naming";
export type { BulkMethod } from "./rows";

export interface PostgresOptions {
  /** Pooled connections, and so chunks written at once. Default 2. */
  connections?: number;
  /** COPY into a staging table + merge, or prepared 1,000-row multi-row upserts. */
  bulk?: BulkMethod;
}

/** Two connections keep client and server both busy on 2 cores; a third adds little. */
const DEFAULT_CONNECTIONS = 2;
/** Measured on 2 cores with two connections: COPY + merge of 10,000-row chunks was the faster. */
const DEFAULT_BULK: BulkMethod = "copy";

/**
 * PostgreSQL destination: schema per data source, table per entity, each chunk COPYed into a
 * staging table and merged (or upserted 1,000 rows per prepared multi-row statement), and
 * chunks written on two connections at once. Each chunk's rows and
 * the entity's checkpoint (schema `_mako`, table `state`) commit in one transaction.
 */
export class PostgresDestination extends DialectDestination<pg.PoolClient, PgWriter> {
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresDestination> {
    const connections = options.connections ?? DEFAULT_CONNECTIONS;
    const pool = new pg.Pool({ connectionString: url, max: connections, types: { getTypeParser } });
    pool.on("error", () => {}); // an idle client's dropped connection surfaces on the next query
    // A checked-out client has no listener of the pool's: a server that drops it (a restart) would
    // end the process with an unhandled "error" event. The query in flight fails with it anyway.
    pool.on("connect", (client) => client.on("error", () => {}));
    const destination = new PostgresDestination(pool, connections, options.bulk ?? DEFAULT_BULK);
    try {
      await setup(pool);
    } catch (err) {
      await pool.end().catch(() => {});
      throw new Error(`cannot open PostgreSQL destination ${redact(url)}: ${err.message}`);
    }
    return destination;
  }

  private constructor(
    readonly pool: pg.Pool,
    connections: number,
    readonly bulk: BulkMethod,
  ) {
    super(postgresDialect(pool, { connections, bulk }));
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}
