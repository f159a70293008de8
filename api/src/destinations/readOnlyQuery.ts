import type pg from "pg";
import type { Destination } from "./Destination";
import { PostgresDestination } from "./postgres/PostgresDestination";
import { SqliteDestination } from "./sqlite/SqliteDestination";

/**
 * Runs one read-only SQL statement on Mako's default destination (`mako sql`): the embedded
 * SQLite file, or the PostgreSQL database of DATABASE_URL.
 */
export async function readOnlyQuery(destination: Destination, query: string): Promise<Record<string, unknown>[]> {
  if (destination instanceof SqliteDestination) {
    const statement = destination.db.prepare(query);
    if (!statement.readonly) throw new Error("only read-only queries are allowed here");
    return statement.all() as Record<string, unknown>[];
  }
  if (destination instanceof PostgresDestination) {
    const client = await destination.pool.connect();
    try {
      // A READ ONLY transaction makes PostgreSQL refuse writes; the extended protocol refuses a
      // second statement, so a "COMMIT; DROP …" cannot step out of it.
      await client.query("BEGIN TRANSACTION READ ONLY");
      // (`queryMode` is in pg 8.23 but not yet in its type definitions.)
      const result = await client.query({ text: query, queryMode: "extended" } as pg.QueryConfig);
      return result.rows;
    } finally {
      await client.query("ROLLBACK").catch(() => {});
      client.release();
    }
  }
  throw new Error(`queries run on the embedded SQLite file or DATABASE_URL's PostgreSQL, not on a ${destination.kind} destination`);
}
