import Database from "better-sqlite3";
import pg from "pg";
import type { Destination } from "./Destination";
import { PostgresDestination } from "./postgres/PostgresDestination";
import { SqliteDestination } from "./sqlite/SqliteDestination";

import { READER_ROLE } from "../store/postgresUrl";

export { READER_ROLE };

export interface ReadOnlyQueryOptions {
  /** Schemas the reader role may read (the sources' own). */
  schemas?: string[];
  /** The reader role's password (derived from Mako's secret key, so it is stable). */
  readerPassword?: string;
}

/**
 * Runs one read-only SQL statement on Mako's default destination (`mako sql`): the embedded
 * SQLite file, or the PostgreSQL database of DATABASE_URL. It reads data and nothing else:
 * no write, no file, no program, whatever the statement.
 */
export async function readOnlyQuery(destination: Destination, query: string, options: ReadOnlyQueryOptions = {}): Promise<Record<string, unknown>[]> {
  if (destination instanceof SqliteDestination) return sqliteQuery(destination, query);
  if (destination instanceof PostgresDestination) return postgresQuery(destination, query, options);
  throw new Error(`queries run on the embedded SQLite file or DATABASE_URL's PostgreSQL, not on a ${destination.kind} destination`);
}

/**
 * On a connection of its own opened read-only: SQLite then refuses every write, an ATTACH
 * cannot create a file, and a pragma cannot change the database Mako uses.
 */
function sqliteQuery(destination: SqliteDestination, query: string): Record<string, unknown>[] {
  const db = new Database(destination.db.name, { readonly: true, fileMustExist: true });
  try {
    const statement = db.prepare(query);
    if (!statement.readonly || !statement.reader) throw new Error("only read-only queries that return rows are allowed here");
    return statement.all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
}

/**
 * PostgreSQL: in a READ ONLY transaction, which stops writes but not a superuser's `COPY … TO
 * PROGRAM`, `pg_read_file` or `lo_import`. So when DATABASE_URL's role has such rights, the
 * query runs on a connection of the role `mako_reader` (created here: no superuser, no file or
 * program rights, SELECT on the sources' schemas only) — a separate login, since `SET ROLE`
 * can be undone by the statement itself. When that is impossible, it refuses with what to do.
 */
async function postgresQuery(destination: PostgresDestination, query: string, options: ReadOnlyQueryOptions): Promise<Record<string, unknown>[]> {
  const own = await destination.pool.connect();
  let reader: pg.Client | undefined;
  try {
    const me = await rightsOf(own);
    if (!me.dangerous) return await readOnly(own, query);
    if (!me.canCreateRoles) {
      throw new Error(
        `DATABASE_URL's role "${me.name}" can ${me.dangerous}, which a query could use; mako sql runs as role "${READER_ROLE}" ` +
          `in that case, and "${me.name}" cannot create it: set DATABASE_URL to a role without superuser, file or program rights, or give "${me.name}" CREATEROLE`,
      );
    }
    if (!options.readerPassword) throw new Error(`mako sql needs a password for role "${READER_ROLE}"`);
    // Serializes this database's grants (another `mako sql` may be granting the same schemas).
    await own.query("SELECT pg_advisory_lock(hashtext('mako:reader-role'))");
    try {
      await prepareReader(own, options.schemas ?? []);
      const url = readerUrl(destination.pool.options.connectionString ?? "", options.readerPassword);
      reader = await loginAs(url)
        .catch(async (err: Error & { code?: string }) => {
          if (err.code !== "28P01") throw err;
          // New, or set by a Mako with another key: (re)set its password (roles are shared by all databases).
          await whileContended(() => own.query(`ALTER ROLE ${own.escapeIdentifier(READER_ROLE)} PASSWORD ${own.escapeLiteral(options.readerPassword!)}`));
          return loginAs(url);
        })
        .catch((err: Error) => {
          throw new Error(
            `cannot connect to PostgreSQL as role "${READER_ROLE}" (${err.message}): allow it to log in (pg_hba.conf), ` +
              `or set DATABASE_URL to a role without superuser, file or program rights`,
          );
        });
    } finally {
      await own.query("SELECT pg_advisory_unlock(hashtext('mako:reader-role'))").catch(() => {});
    }
    const them = await rightsOf(reader);
    if (them.dangerous) throw new Error(`role "${READER_ROLE}" can ${them.dangerous}: revoke that, mako sql will not run as it`);
    return await readOnly(reader, query);
  } finally {
    own.release();
    await reader?.end().catch(() => {});
  }
}

async function readOnly(client: pg.ClientBase, query: string): Promise<Record<string, unknown>[]> {
  try {
    // A READ ONLY transaction makes PostgreSQL refuse writes; the extended protocol refuses a
    // second statement, so a "COMMIT; DROP …" cannot step out of it.
    await client.query("BEGIN TRANSACTION READ ONLY");
    // (`queryMode` is in pg 8.23 but not yet in its type definitions.)
    const result = await client.query({ text: query, queryMode: "extended" } as pg.QueryConfig);
    return result.rows;
  } finally {
    await client.query("ROLLBACK").catch(() => {});
  }
}

/** Server-side functions that read or write files, or reload the server, if the role may call them. */
const SERVER_FUNCTIONS = ["pg_read_file(text)", "pg_read_binary_file(text)", "pg_ls_dir(text)", "lo_import(text)", "lo_export(oid, text)", "pg_reload_conf()"];
const SERVER_ROLES = ["pg_read_server_files", "pg_write_server_files", "pg_execute_server_program"];

/** What the session's role may do beyond reading tables: `dangerous` says it, in words. */
async function rightsOf(client: pg.ClientBase): Promise<{ name: string; dangerous?: string; canCreateRoles: boolean }> {
  const { rows } = await client.query<{ name: string; super: boolean; createrole: boolean; roles: string[]; functions: string[] }>(
    `SELECT current_user AS name, r.rolsuper AS super, r.rolcreaterole AS createrole,
            ARRAY(SELECT x FROM unnest($1::text[]) x WHERE pg_has_role(current_user, x, 'USAGE')) AS roles,
            ARRAY(SELECT f FROM unnest($2::text[]) f WHERE has_function_privilege(f, 'EXECUTE')) AS functions
       FROM pg_roles r WHERE r.rolname = current_user`,
    [SERVER_ROLES, SERVER_FUNCTIONS],
  );
  const r = rows[0];
  const dangerous = r.super
    ? "do anything (superuser)"
    : r.roles.length
      ? `use the server's files or programs (${r.roles.join(", ")})`
      : r.functions.length
        ? `call ${r.functions.join(", ")}`
        : undefined;
  return { name: r.name, dangerous, canCreateRoles: r.super || r.createrole };
}

/**
 * Creates the reader role if it is missing (no superuser, no file or program rights; its
 * password is set by the first Mako that creates it) and lets it read the sources' schemas.
 */
async function prepareReader(client: pg.ClientBase, schemas: string[]): Promise<void> {
  const role = client.escapeIdentifier(READER_ROLE);
  const { rowCount } = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [READER_ROLE]);
  if (!rowCount) {
    await whileContended(() => client.query(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`)).catch((err) => {
      if (err.code !== "42710") throw err; // created meanwhile by another process
    });
  }
  const { rows } = await client.query<{ db: string }>("SELECT current_database() AS db");
  await whileContended(() => client.query(`GRANT CONNECT ON DATABASE ${client.escapeIdentifier(rows[0].db)} TO ${role}`));
  const existing = await client.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])", [schemas]);
  for (const { nspname } of existing.rows) {
    const schema = client.escapeIdentifier(nspname);
    await whileContended(() => client.query(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`));
    await whileContended(() => client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}`));
  }
}

async function loginAs(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
}

/**
 * Runs a statement on a shared catalog row (a role, a database's grants), again when another
 * session changed the same row at the same moment ("tuple concurrently updated").
 */
async function whileContended<T>(statement: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (err) {
      const contended = err.code === "XX000" && /concurrently/.test(err.message);
      if (!contended || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 20 * attempt));
    }
  }
}

/** DATABASE_URL with the reader's name and password instead of its own. */
function readerUrl(connectionString: string, password: string): string {
  const url = new URL(connectionString);
  url.username = READER_ROLE;
  url.password = encodeURIComponent(password);
  for (const name of ["user", "password"]) url.searchParams.delete(name);
  return url.toString();
}
