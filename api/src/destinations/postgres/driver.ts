import type pg from "pg";
import type { Driver } from "../dialect";

/** deadlock_detected, serialization_failure, undefined_column, datatype_mismatch, undefined_table. */
const RETRYABLE = new Set(["40P01", "40001", "42703", "42804", "42P01"]);

/** A pool of connections, each chunk on its own; schema changes serialised by an advisory lock per data source. */
export class PostgresDriver implements Driver<pg.PoolClient> {
  readonly synchronous = false;
  /** Connections whose rollback failed: closed rather than returned to the pool. */
  private readonly broken = new WeakSet<pg.PoolClient>();

  constructor(private readonly pool: pg.Pool) {}

  async session<T>(work: (client: pg.PoolClient) => T | Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      return await work(client);
    } finally {
      client.release(this.broken.has(client));
    }
  }

  async begin(client: pg.PoolClient): Promise<void> {
    await client.query("BEGIN");
  }

  async commit(client: pg.PoolClient): Promise<void> {
    await client.query("COMMIT");
  }

  async rollback(client: pg.PoolClient): Promise<void> {
    await client.query("ROLLBACK").catch(() => this.broken.add(client));
  }

  /** A transaction under the data source's advisory lock: writers on other connections (or processes) wait, then see the new schema. */
  async beginSchema(client: pg.PoolClient, namespace: string): Promise<void> {
    await client.query("BEGIN");
    try {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`mako:ddl:${namespace}`]);
    } catch (err) {
      await this.rollback(client);
      throw err;
    }
  }

  async endSchema(client: pg.PoolClient, _namespace: string, commit: boolean): Promise<void> {
    if (commit) await this.commit(client);
    else await this.rollback(client);
  }

  async exec(client: pg.PoolClient, sql: string): Promise<void> {
    await client.query(sql);
  }

  retryable(client: pg.PoolClient, err: { code?: string }): boolean {
    return !this.broken.has(client) && RETRYABLE.has(err?.code ?? "");
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
