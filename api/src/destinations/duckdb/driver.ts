import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { Driver } from "../dialect";

/** One writer per file: one connection, one transaction at a time, calls queued. */
export class DuckdbDriver implements Driver<DuckDBConnection> {
  readonly synchronous = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  session<T>(work: (connection: DuckDBConnection) => T | Promise<T>): Promise<T> {
    const run = this.queue.then(
      () => work(this.connection),
      () => work(this.connection),
    );
    this.queue = run.catch(() => {});
    return run;
  }

  async begin(connection: DuckDBConnection): Promise<void> {
    await connection.run("BEGIN TRANSACTION");
  }

  async commit(connection: DuckDBConnection): Promise<void> {
    await connection.run("COMMIT");
  }

  async rollback(connection: DuckDBConnection): Promise<void> {
    await connection.run("ROLLBACK").catch(() => {});
  }

  /** One writer: a schema section is a transaction. */
  beginSchema(connection: DuckDBConnection): Promise<void> {
    return this.begin(connection);
  }

  endSchema(connection: DuckDBConnection, _namespace: string, commit: boolean): Promise<void> {
    return commit ? this.commit(connection) : this.rollback(connection);
  }

  async exec(connection: DuckDBConnection, sql: string): Promise<void> {
    await connection.run(sql);
  }

  retryable(): boolean {
    return false;
  }

  close(): Promise<void> {
    return this.session(() => {
      this.connection.closeSync();
      this.instance.closeSync();
    });
  }
}
