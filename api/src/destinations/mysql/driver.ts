import { createHash } from "node:crypto";
import type mysql from "mysql2/promise";
import type { Driver } from "../dialect";

type Conn = mysql.PoolConnection;

/** ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT, ER_BAD_FIELD_ERROR, ER_NO_SUCH_TABLE. */
const RETRYABLE = new Set([1213, 1205, 1054, 1146]);

const lockName = (namespace: string) => `mako_ddl_${createHash("sha1").update(namespace).digest("hex")}`;

/**
 * A pool of connections, each chunk on its own. MySQL's DDL commits on its own, so a schema
 * section is not a transaction: a named lock serialises it across connections and processes.
 */
export class MysqlDriver implements Driver<Conn> {
  readonly synchronous = false;
  /** Connections whose rollback failed: destroyed rather than returned to the pool. */
  private readonly broken = new WeakSet<Conn>();

  constructor(private readonly pool: mysql.Pool) {}

  async session<T>(work: (conn: Conn) => T | Promise<T>): Promise<T> {
    const conn = await this.pool.getConnection();
    try {
      return await work(conn);
    } finally {
      if (this.broken.has(conn)) conn.destroy();
      else conn.release();
    }
  }

  async begin(conn: Conn): Promise<void> {
    await conn.query("START TRANSACTION");
  }

  async commit(conn: Conn): Promise<void> {
    await conn.query("COMMIT");
  }

  async rollback(conn: Conn): Promise<void> {
    await conn.query("ROLLBACK").catch(() => this.broken.add(conn));
  }

  async beginSchema(conn: Conn, namespace: string): Promise<void> {
    const [[got]] = await conn.query<mysql.RowDataPacket[]>("SELECT GET_LOCK(?, 600) AS ok", [lockName(namespace)]);
    if (got.ok !== 1) throw new Error(`timed out waiting for the schema lock of ${namespace}`);
  }

  async endSchema(conn: Conn, namespace: string, commit: boolean): Promise<void> {
    const release = conn.query("SELECT RELEASE_LOCK(?)", [lockName(namespace)]);
    if (commit) await release;
    else await release.catch(() => this.broken.add(conn)); // a lock left held must not go back to the pool
  }

  async exec(conn: Conn, sql: string): Promise<void> {
    await conn.query(sql);
  }

  retryable(conn: Conn, err: { errno?: number }): boolean {
    return !this.broken.has(conn) && RETRYABLE.has(err?.errno ?? 0);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
