// The conformance kit (crash before and after every commit, resume, compare with an
// uninterrupted run) with the sample connector, syncing into each server destination.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { checkConnector } from "../../src/conformance";
import { SampleConnector } from "../../src/connectors/sample";
import type { Destination } from "../../src/destinations/Destination";
import { DuckdbDestination } from "../../src/destinations/duckdb/DuckdbDestination";
import { MysqlDestination } from "../../src/destinations/mysql/MysqlDestination";
import { PostgresDestination } from "../../src/destinations/postgres/PostgresDestination";

const PG = "postgres://postgres@127.0.0.1:5432";
const MY = "mysql://root@127.0.0.1:3306";
const prefix = `mako_conf_${process.pid}_${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), "mako-conformance-"));
const cleanups: Array<() => Promise<void>> = [];
let n = 0;

afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** Each call gets an empty database: the kit syncs the same namespace into several destinations. */
const fresh: Record<"postgres" | "mysql" | "duckdb", () => Promise<Destination>> = {
  async postgres() {
    const db = `${prefix}_${++n}`;
    const admin = new pg.Client(`${PG}/test`);
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    cleanups.push(async () => {
      const c = new pg.Client(`${PG}/test`);
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await c.end();
    });
    return PostgresDestination.open(`${PG}/${db}`);
  },
  async mysql() {
    const db = `${prefix}_${++n}`;
    const admin = await mysql.createConnection(`${MY}/test`);
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    cleanups.push(async () => {
      const c = await mysql.createConnection(`${MY}/test`);
      await c.query(`DROP DATABASE IF EXISTS ${db}`);
      await c.end();
    });
    return MysqlDestination.open(`${MY}/${db}`);
  },
  async duckdb() {
    return DuckdbDestination.open(join(dir, `${++n}.duckdb`));
  },
};

describe("conformance kit with the server destinations", () => {
  for (const kind of ["postgres", "mysql", "duckdb"] as const) {
    it(`passes with the sample connector syncing into ${kind}`, { timeout: 180_000 }, async () => {
      const report = await checkConnector({
        connector: SampleConnector,
        config: { count: 120, seed: 5 },
        settings: { batchSize: 40, maxIterations: 1 },
        changeSource: async () => ({ config: { count: 160, seed: 5 } }),
        destination: fresh[kind],
      });
      expect(report.firstFailure).toBeUndefined();
      expect(report.ok).toBe(true);
      expect(report.checks.map((c) => c.name)).toEqual(
        expect.arrayContaining(["uninterrupted sync", "resume after crashes before and after each commit"]),
      );
    });
  }
});
