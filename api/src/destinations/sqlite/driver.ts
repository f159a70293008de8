import type Database from "better-sqlite3";
import type { Driver } from "../dialect";

/**
 * better-sqlite3 answers every call at once, so the flow runs each chunk in one call stack:
 * nothing else (Mako's metadata store shares this connection) runs inside its transaction.
 */
export class SqliteDriver implements Driver<Database.Database> {
  readonly synchronous = true;

  constructor(private readonly db: Database.Database) {}

  async session<T>(work: (db: Database.Database) => T | Promise<T>): Promise<T> {
    return work(this.db);
  }

  begin(db: Database.Database): void {
    // IMMEDIATE: the write lock is taken (waiting up to the busy timeout) before the chunk reads
    // its checkpoint. A deferred BEGIN would read first, and its first write would fail at once
    // with "database is locked" had another process (a second sync, a scheduler) written since.
    db.exec("BEGIN IMMEDIATE");
  }

  commit(db: Database.Database): void {
    db.exec("COMMIT");
  }

  rollback(db: Database.Database): void {
    try {
      if (db.inTransaction) db.exec("ROLLBACK"); // SQLite may have rolled back already (e.g. disk full)
    } catch {
      // nothing left to undo
    }
  }

  /** One writer per file: a schema section is a transaction. */
  beginSchema(db: Database.Database): void {
    this.begin(db);
  }

  endSchema(db: Database.Database, _namespace: string, commit: boolean): void {
    if (commit) this.commit(db);
    else this.rollback(db);
  }

  exec(db: Database.Database, sql: string): void {
    db.exec(sql);
  }

  retryable(): boolean {
    return false;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
