// The fence in each destination's state row: taking an entity raises it, a writer whose fence is
// behind is refused at commit (its rows rolled back with it), and state rows made before the fence
// existed get the column. The same checks on SQLite, PostgreSQL, MySQL and DuckDB.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import type { Destination, EntityCheckpoint, TableRef } from "../../src/destinations/Destination";
import { DuckdbDestination } from "../../src/destinations/duckdb/DuckdbDestination";
import { MysqlDestination } from "../../src/destinations/mysql/MysqlDestination";
import { PostgresDestination } from "../../src/destinations/postgres/PostgresDestination";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import { StaleFenceError } from "../../src/destinations/stateRow";

const PG = "postgres://postgres@127.0.0.1:5432";
const MY = "mysql://root@127.0.0.1:3306";
const name = `mako_fence_${process.pid}_${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), "mako-fence-"));
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const c of cleanups) await c().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

/** Each kind: a fresh database whose state table is the one from before the fence, then opened by Mako. */
const kinds: Record<string, () => Promise<{ open: () => Promise<Destination>; hasFenceColumn: () => Promise<boolean> }>> = {
  async sqlite() {
    const path = join(dir, "old.db");
    const old = new Database(path);
    old.exec(`CREATE TABLE _mako_state (namespace TEXT NOT NULL, entity TEXT NOT NULL, checkpoint TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (namespace, entity))`);
    old.close();
    return {
      open: async () => SqliteDestination.open(path),
      hasFenceColumn: async () => {
        const db = new Database(path, { readonly: true });
        try {
          return (db.prepare(`SELECT name FROM pragma_table_info('_mako_state')`).pluck().all() as string[]).includes("fence");
        } finally {
          db.close();
        }
      },
    };
  },
  async postgres() {
    const admin = new pg.Client(`${PG}/test`);
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    cleanups.push(async () => {
      const c = new pg.Client(`${PG}/test`);
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    });
    const url = `${PG}/${name}`;
    const c = new pg.Client(url);
    await c.connect();
    await c.query(`CREATE SCHEMA _mako; CREATE TABLE _mako.state (namespace text NOT NULL, entity text NOT NULL, checkpoint text, pending text, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (namespace, entity))`);
    await c.end();
    const column = async () => {
      const q = new pg.Client(url);
      await q.connect();
      const { rows } = await q.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = '_mako' AND table_name = 'state' AND column_name = 'fence'`);
      await q.end();
      return rows.length === 1;
    };
    return { open: () => PostgresDestination.open(url), hasFenceColumn: column };
  },
  async mysql() {
    const admin = await mysql.createConnection(`${MY}/test`);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.query(`CREATE TABLE ${name}._mako_state (namespace VARCHAR(255) NOT NULL, entity VARCHAR(255) NOT NULL, checkpoint LONGTEXT, pending LONGTEXT,
      updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (namespace, entity))`);
    cleanups.push(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.end();
    });
    const column = async () => {
      const [rows] = await admin.query<mysql.RowDataPacket[]>(
        `SELECT 1 FROM information_schema.columns WHERE table_schema = ? AND table_name = '_mako_state' AND column_name = 'fence'`,
        [name],
      );
      return rows.length === 1;
    };
    return { open: () => MysqlDestination.open(`${MY}/${name}`), hasFenceColumn: column };
  },
  async duckdb() {
    const path = join(dir, "old.duckdb");
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const instance = await DuckDBInstance.create(path);
    const c = await instance.connect();
    await c.run(`CREATE SCHEMA _mako; CREATE TABLE _mako.state (namespace VARCHAR NOT NULL, entity VARCHAR NOT NULL, checkpoint VARCHAR, pending VARCHAR, updated_at TIMESTAMPTZ, PRIMARY KEY (namespace, entity))`);
    c.closeSync();
    instance.closeSync();
    let open: DuckdbDestination | undefined;
    return {
      open: async () => (open = await DuckdbDestination.open(path)),
      hasFenceColumn: async () => {
        const reader = await open!.connection.runAndReadAll(
          `SELECT 1 FROM information_schema.columns WHERE table_schema = '_mako' AND table_name = 'state' AND column_name = 'fence'`,
        );
        return reader.getRows().length === 1;
      },
    };
  },
};

const ref: TableRef = { namespace: "fenced", entity: "items" };
const checkpoint = (seq: number, records: number): EntityCheckpoint => ({
  runId: "r",
  seq,
  mode: "incremental",
  since: null,
  passStartedAt: "2025-01-01T00:00:00.000Z",
  fetchState: { hasMore: true, offset: records },
  maxCursor: null,
  highWaterMark: null,
  records,
});
const rows = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ id: from + i, name: `item ${from + i}` }));
const chunk = (seq: number, fence?: number) => ({
  table: ref,
  primaryKey: ["id"],
  records: rows((seq - 1) * 10 + 1, 10),
  checkpoint: checkpoint(seq, seq * 10),
  syncedAt: new Date().toISOString(),
  fence,
});

describe("the fence in the state row", () => {
  for (const kind of Object.keys(kinds)) {
    it(`${kind}: a writer behind the stored fence is refused and rolled back; a higher one takes the entity`, async () => {
      const { open, hasFenceColumn } = await kinds[kind]();
      const d = await open();
      try {
        expect(await hasFenceColumn()).toBe(true);
        await d.raiseFence(ref, 1);
        await d.writeChunk(chunk(1, 1));
        // A second writer takes the entity: the first is behind from now on.
        await d.raiseFence(ref, 2);
        const stale = d.writeChunk(chunk(2, 1));
        await expect(stale).rejects.toThrow(StaleFenceError);
        await expect(stale).rejects.toMatchObject({
          retryable: false,
          message: "fenced.items was taken over by another worker (fence 2; this writer's is 1): this writer's commit was refused and rolled back",
        });
        expect((await d.readRows(ref, { limit: 100, offset: 0 })).length).toBe(10);
        expect((await d.loadCheckpoint(ref))?.seq).toBe(1);
        await expect(d.completeEntity({ table: ref, primaryKey: ["id"], checkpoint: { ...checkpoint(0, 10), fetchState: null }, deletedAt: new Date().toISOString(), fence: 1 })).rejects.toThrow(StaleFenceError);
        await expect(d.raiseFence(ref, 1)).rejects.toThrow(StaleFenceError);

        // The holder of fence 2 goes on; a commit without a fence (a plain sync) is not checked and keeps it.
        await d.writeChunk(chunk(2, 2));
        await d.writeChunk(chunk(3));
        await expect(d.writeChunk(chunk(4, 1))).rejects.toThrow(StaleFenceError);
        await d.completeEntity({ table: ref, primaryKey: ["id"], checkpoint: { ...checkpoint(0, 30), fetchState: null }, deletedAt: new Date().toISOString(), fence: 2 });
        expect((await d.readRows(ref, { limit: 100, offset: 0 })).length).toBe(30);
        expect(await d.loadCheckpoint(ref)).toMatchObject({ seq: 0, fetchState: null, records: 30 });
      } finally {
        await d.close();
      }
    });
  }
});
