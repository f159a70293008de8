import Database from "better-sqlite3";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readOnlyQuery } from "../../src/destinations/readOnlyQuery";
import { Mako } from "../../src/Mako";
import { runMako, type CliOutcome } from "./cli";

// Finding 8: with DATABASE_URL a superuser (common on a laptop), `mako sql` ran
// `COPY … TO PROGRAM`, wrote files, read them, imported them as large objects and reloaded
// the server's configuration: READ ONLY transactions do not stop these.

const SERVER = "postgres://postgres@127.0.0.1:5432";
const suffix = `${process.pid}_${Date.now().toString(36)}`;
const database = `mako_sql_${suffix}`;
const risky = `mako_risky_${suffix}`;
const plain = `mako_plain_${suffix}`;
let admin: pg.Client;
let tmp: string;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: `${SERVER}/test` });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`these tests need PostgreSQL on 127.0.0.1:5432 (user postgres, db test): ${err.message}`);
  }
  // A role with program rights but no right to create roles, and one with neither; each
  // with a database of its own, where it creates Mako's schemas.
  await admin.query(`CREATE ROLE ${risky} LOGIN`);
  await admin.query(`GRANT pg_execute_server_program TO ${risky}`);
  await admin.query(`CREATE ROLE ${plain} LOGIN`);
  for (const db of [database, `${database}_${risky}`, `${database}_${plain}`]) await admin.query(`CREATE DATABASE ${db}`);
  await admin.query(`GRANT CREATE ON DATABASE ${database}_${risky} TO ${risky}`);
  await admin.query(`GRANT CREATE ON DATABASE ${database}_${plain} TO ${plain}`);
  tmp = mkdtempSync(join(tmpdir(), "mako-sql-"));
});

afterAll(async () => {
  for (const db of [database, `${database}_${risky}`, `${database}_${plain}`]) await admin?.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  for (const role of [risky, plain]) await admin?.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
  await admin?.end();
  rmSync(tmp, { recursive: true, force: true });
});

function expectRefused(r: CliOutcome, pattern: RegExp) {
  expect(r.code, r.stdout).not.toBe(0);
  expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(pattern);
}

/**
 * What `mako sql QUERY` does, in this process (the command adds only argument parsing and its
 * one-line error, which one run of the real command per store checks below).
 */
async function sqlOn(mako: Mako, query: string): Promise<Record<string, unknown>[]> {
  return readOnlyQuery(mako.defaultDestination, query, { schemas: await mako.store.listSourceNames(), readerPassword: mako.derivedSecret("postgres-reader") });
}

describe("mako sql on PostgreSQL reads data and nothing else", () => {
  it("as a superuser's DATABASE_URL: runs as mako_reader, and the finding's statements all fail", async () => {
    const home = join(tmp, "super");
    const env = { DATABASE_URL: `${SERVER}/${database}` };
    const mako = await Mako.open({ home, databaseUrl: env.DATABASE_URL });
    try {
      await mako.sources.add({ name: "shop", connector: "sample", config: { count: 25 } });
      expect((await (await mako.sync("shop")).done).status).toBe("succeeded");
      // World-writable, so the server's OS user could write there if a statement got through.
      const programOut = `/tmp/mako_sql_program_${suffix}`;
      const copyOut = `/tmp/mako_sql_copy_${suffix}`;
      const attacks: [string, RegExp][] = [
        [`COPY (SELECT 1) TO PROGRAM 'id > ${programOut}'`, /pg_execute_server_program/],
        [`COPY (SELECT 1) TO '${copyOut}'`, /pg_write_server_files/],
        ["SELECT pg_read_file('/etc/hostname')", /permission denied for function pg_read_file/],
        ["SELECT lo_import('/etc/hostname')", /permission denied for function lo_import/],
        ["SELECT pg_reload_conf()", /permission denied for function pg_reload_conf/],
        // SET ROLE would be undone by the statement itself; a login of its own cannot be.
        ["SELECT set_config('role', 'postgres', true), query_to_xml('SELECT pg_read_file(''/etc/hostname'')', true, false, '')", /permission denied to set role "postgres"/],
        ["DELETE FROM shop.users", /permission denied for table users|read-only transaction/],
      ];
      for (const [query, why] of attacks) await expect(sqlOn(mako, query), query).rejects.toThrow(why);
      expect(existsSync(programOut)).toBe(false);
      expect(existsSync(copyOut)).toBe(false);
      expect(await sqlOn(mako, "SELECT count(*)::int AS n FROM shop.users")).toEqual([{ n: 25 }]);
      expect(await sqlOn(mako, "SELECT current_user AS me, session_user AS login")).toEqual([{ me: "mako_reader", login: "mako_reader" }]);
      // Mako's own records (sealed configs included) are not the reader's to read.
      await expect(sqlOn(mako, "SELECT * FROM mako.sources")).rejects.toThrow(/permission denied for schema mako/);
    } finally {
      await mako.close();
    }
    const { rows } = await admin.query(`SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'mako_reader'`);
    expect(rows).toEqual([{ rolsuper: false, rolcreaterole: false, rolcreatedb: false }]);

    // The command itself: the same refusal in one line, and rows printed.
    const [refused, counted] = [await runMako(home, ["sql", `COPY (SELECT 1) TO PROGRAM 'id > ${`/tmp/mako_sql_cli_${suffix}`}'`], env), await runMako(home, ["sql", "SELECT count(*)::int AS n FROM shop.users", "--json"], env)];
    expectRefused(refused, /^error: SQL error: .*pg_execute_server_program/);
    expect(existsSync(`/tmp/mako_sql_cli_${suffix}`)).toBe(false);
    expect(counted.stdout).toBe('{"n":25}\n');
  }, 300_000);

  it("as a role with program rights that cannot create roles: refuses in one line, saying what to configure", async () => {
    const home = join(tmp, "risky");
    const r = await runMako(home, ["sql", "SELECT 1 AS one"], { DATABASE_URL: `postgres://${risky}@127.0.0.1:5432/${database}_${risky}` });
    expectRefused(r, new RegExp(`^error: SQL error: DATABASE_URL's role "${risky}" can use the server's files or programs \\(pg_execute_server_program\\).*set DATABASE_URL to a role without superuser, file or program rights`));
  }, 120_000);

  it("as a role without such rights: runs as that role, still read-only", async () => {
    const mako = await Mako.open({ home: join(tmp, "plain"), databaseUrl: `postgres://${plain}@127.0.0.1:5432/${database}_${plain}` });
    try {
      expect(await sqlOn(mako, "SELECT current_user AS me")).toEqual([{ me: plain }]);
      await expect(sqlOn(mako, "COPY (SELECT 1) TO PROGRAM 'id'")).rejects.toThrow(/pg_execute_server_program/);
      await expect(sqlOn(mako, "CREATE TABLE x (a int)")).rejects.toThrow(/read-only transaction/);
    } finally {
      await mako.close();
    }
  }, 120_000);
});

describe("mako sql on SQLite reads data and nothing else", () => {
  it("refuses writes, ATTACH and pragmas that write; a query still runs", async () => {
    const home = join(tmp, "sqlite");
    const mako = await Mako.open({ home });
    const attached = join(tmp, "attached.db");
    try {
      await mako.sources.add({ name: "shop", connector: "sample", config: { count: 5 } });
      await (await mako.sync("shop")).done;
      const attacks = [
        `ATTACH '${attached}' AS x`,
        "PRAGMA user_version = 7",
        "PRAGMA journal_mode = DELETE",
        `VACUUM INTO '${join(tmp, "copy.db")}'`,
        "DELETE FROM shop__users",
        "SELECT load_extension('/nonexistent/extension')",
        "WITH gone AS (SELECT 1) DELETE FROM shop__users",
      ];
      for (const query of attacks) await expect(sqlOn(mako, query), query).rejects.toThrow();
      expect(await sqlOn(mako, "SELECT count(*) AS n FROM shop__users")).toEqual([{ n: 5 }]);
    } finally {
      await mako.close();
    }
    expect(existsSync(attached)).toBe(false);
    expect(existsSync(join(tmp, "copy.db"))).toBe(false);
    const db = new Database(join(home, "mako.db"), { readonly: true });
    expect(db.pragma("user_version", { simple: true })).toBe(0);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.prepare("SELECT count(*) AS n FROM shop__users").get()).toEqual({ n: 5 });
    db.close();
    expectRefused(await runMako(home, ["sql", `ATTACH '${attached}' AS x`]), /^error: SQL error: only read-only queries that return rows are allowed here$/m);
    expect(existsSync(attached)).toBe(false);
  }, 120_000);
});
