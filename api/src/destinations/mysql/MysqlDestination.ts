import mysql from "mysql2/promise";
import { DialectDestination } from "../DialectDestination";
import { type ServerLimits, setup } from "./catalog";
import { mysqlDialect } from "./dialect";
import type { MysqlWriter } from "./rows";

export { mysqlTableName, quote } from "./naming";

const DEFAULT_CONNECTIONS = 2;

/**
 * MySQL/MariaDB destination: table `NAME__ENTITY` in the URL's database, multi-row
 * INSERT … ON DUPLICATE KEY UPDATE of ~1,000 rows (kept under max_allowed_packet), chunks
 * written on two connections at once, each chunk's rows and checkpoint in one transaction.
 */
export class MysqlDestination extends DialectDestination<mysql.PoolConnection, MysqlWriter> {
  static async open(url: string, options: { connections?: number } = {}): Promise<MysqlDestination> {
    const connections = options.connections ?? DEFAULT_CONNECTIONS;
    const pool = mysql.createPool({
      uri: url,
      connectionLimit: connections,
      charset: "utf8mb4_bin",
      supportBigNumbers: true,
      dateStrings: true,
      timezone: "Z",
      // Affected rows count changed rows, not matched ones: an upsert the version guard refused
      // counts 0 (rows.ts changedRows), as an insert counts 1 and a replacement 2.
      flags: ["-FOUND_ROWS"],
    });
    // Row locks only, no gap locks: two connections upserting disjoint keys do not block each other.
    pool.pool.on("connection", (c) => c.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"));
    try {
      return new MysqlDestination(pool, connections, await setup(pool));
    } catch (err) {
      await pool.end().catch(() => {});
      throw new Error(`cannot open MySQL destination ${url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@")}: ${err.message}`);
    }
  }

  private constructor(
    readonly pool: mysql.Pool,
    connections: number,
    limits: ServerLimits,
  ) {
    super(mysqlDialect(pool, { connections, limits }));
  }
}
