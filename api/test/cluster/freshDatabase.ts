// A PostgreSQL database of its own for one test file (Mako's schema name is fixed, and runs of
// a file may overlap), dropped afterwards. Fails loudly when the server is missing.
import pg from "pg";

export const PG_SERVER = "postgres://postgres@127.0.0.1:5432";

export interface FreshDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function freshDatabase(prefix: string): Promise<FreshDatabase> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  const admin = new pg.Client({ connectionString: `${PG_SERVER}/test` });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`these tests need PostgreSQL on 127.0.0.1:5432 (user postgres, db test): ${err.message}`);
  }
  await admin.query(`CREATE DATABASE ${name}`);
  const url = `${PG_SERVER}/${name}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => {}); // DROP DATABASE … WITH (FORCE) may end a connection still closing
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
