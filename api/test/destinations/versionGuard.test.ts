// The version guard (api/src/destinations/rowVersions.ts) on every destination's real database:
// a write replaces a row only when its `_mako_version` is not older than the stored one, deletes
// included; webhooks' changes (applyChanges) and pulls' chunks meet under it, a full refresh
// re-applies the changes of its pass after the swap, and tables from before the column gain it.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markDeleted } from "../../src/connectors/base/deletions";
import type { DataRecord } from "../../src/connectors/base/types";
import type { Destination, EntityCheckpoint, TableRef } from "../../src/destinations/Destination";
import { DuckdbDestination } from "../../src/destinations/duckdb/DuckdbDestination";
import { MysqlDestination } from "../../src/destinations/mysql/MysqlDestination";
import { PostgresDestination } from "../../src/destinations/postgres/PostgresDestination";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import { StaleFenceError } from "../../src/destinations/stateRow";

const PG = "postgres://postgres@127.0.0.1:5432";
const MY = "mysql://root@127.0.0.1:3306";
const run = `mako_versions_${process.pid}_${Date.now().toString(36)}`;
const dir = mkdtempSync(join(tmpdir(), "mako-versions-"));
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const c of cleanups) await c().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

/** Microseconds since the Unix epoch, as vendors' versions are given to the destination. */
const T = 1_733_000_000_000_000;
const LEGACY: TableRef = { namespace: "legacy", entity: "items" };
const OLD_SYNC = "2024-01-01T00:00:00.000Z";

/**
 * Each kind on a database of its own, holding what an older Mako left: Mako's records without
 * the `versioned` flag and the table `legacy.items` without `_mako_version`, two rows in it.
 */
const kinds: Record<string, () => Promise<Destination>> = {
  async sqlite() {
    const path = join(dir, "old.db");
    const old = new Database(path);
    old.exec(`
      CREATE TABLE _mako_tables (table_name TEXT PRIMARY KEY, namespace TEXT NOT NULL, entity TEXT NOT NULL, primary_key TEXT NOT NULL, overflow INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE _mako_columns (table_name TEXT NOT NULL, field TEXT NOT NULL, column_name TEXT NOT NULL, type TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (table_name, field));
      CREATE TABLE legacy__items (id INTEGER NOT NULL, name TEXT, _mako_synced_at TEXT NOT NULL, _mako_deleted_at TEXT, PRIMARY KEY (id));
      INSERT INTO _mako_tables VALUES ('legacy__items', 'legacy', 'items', '["id"]', 0);
      INSERT INTO _mako_columns VALUES ('legacy__items', 'id', 'id', 'integer', 0), ('legacy__items', 'name', 'name', 'text', 1);
      INSERT INTO legacy__items VALUES (1, 'old one', '${OLD_SYNC}', NULL), (2, 'old two', '${OLD_SYNC}', NULL);`);
    old.close();
    return SqliteDestination.open(path);
  },
  postgres: () => postgres("copy"),
  "postgres (multi-row)": () => postgres("multirow"),
  async mysql() {
    const name = `${run}_my`;
    const admin = await mysql.createConnection({ uri: `${MY}/test`, multipleStatements: true });
    await admin.query(`CREATE DATABASE ${name}`);
    cleanups.push(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.end();
    });
    await admin.query(`
      CREATE TABLE ${name}._mako_tables (namespace VARCHAR(255) NOT NULL, entity VARCHAR(255) NOT NULL, table_name VARCHAR(64) NOT NULL,
        primary_key TEXT NOT NULL, overflow BOOLEAN NOT NULL DEFAULT FALSE, generation INT NOT NULL DEFAULT 0, PRIMARY KEY (namespace, entity));
      CREATE TABLE ${name}._mako_columns (namespace VARCHAR(255) NOT NULL, entity VARCHAR(255) NOT NULL, field LONGTEXT NOT NULL,
        column_name VARCHAR(64) NOT NULL, type VARCHAR(16) NOT NULL, position INT NOT NULL, PRIMARY KEY (namespace, entity, position));
      CREATE TABLE ${name}.legacy__items (id BIGINT NOT NULL, name LONGTEXT, _mako_synced_at DATETIME(6) NOT NULL, _mako_deleted_at DATETIME(6) NULL, PRIMARY KEY (id));
      INSERT INTO ${name}._mako_tables VALUES ('legacy', 'items', 'legacy__items', '["id"]', FALSE, 1);
      INSERT INTO ${name}._mako_columns VALUES ('legacy', 'items', 'id', 'id', 'integer', 0), ('legacy', 'items', 'name', 'name', 'text', 1);
      INSERT INTO ${name}.legacy__items VALUES (1, 'old one', '2024-01-01 00:00:00', NULL), (2, 'old two', '2024-01-01 00:00:00', NULL);`);
    return MysqlDestination.open(`${MY}/${name}`);
  },
  async duckdb() {
    const path = join(dir, "old.duckdb");
    const { DuckDBInstance } = await import("@duckdb/node-api");
    const instance = await DuckDBInstance.create(path);
    const c = await instance.connect();
    await c.run(`
      CREATE SCHEMA _mako;
      CREATE TABLE _mako.tables (namespace VARCHAR NOT NULL, entity VARCHAR NOT NULL, primary_key VARCHAR NOT NULL, overflow BOOLEAN NOT NULL, PRIMARY KEY (namespace, entity));
      CREATE TABLE _mako.columns (namespace VARCHAR NOT NULL, entity VARCHAR NOT NULL, field VARCHAR NOT NULL, column_name VARCHAR NOT NULL,
        type VARCHAR NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (namespace, entity, field));
      CREATE SCHEMA legacy;
      CREATE TABLE legacy.items (id BIGINT NOT NULL, name VARCHAR, _mako_synced_at TIMESTAMPTZ NOT NULL, _mako_deleted_at TIMESTAMPTZ, PRIMARY KEY (id));
      INSERT INTO _mako.tables VALUES ('legacy', 'items', '["id"]', false);
      INSERT INTO _mako.columns VALUES ('legacy', 'items', 'id', 'id', 'integer', 0), ('legacy', 'items', 'name', 'name', 'text', 1);
      INSERT INTO legacy.items VALUES (1, 'old one', '${OLD_SYNC}', NULL), (2, 'old two', '${OLD_SYNC}', NULL);`);
    c.closeSync();
    instance.closeSync();
    return DuckdbDestination.open(path);
  },
};

async function postgres(bulk: "copy" | "multirow"): Promise<Destination> {
  const name = `${run}_pg_${bulk}`;
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
  const c = new pg.Client(`${PG}/${name}`);
  await c.connect();
  await c.query(`
    CREATE SCHEMA _mako;
    CREATE TABLE _mako.tables (namespace text NOT NULL, entity text NOT NULL, primary_key text NOT NULL, overflow boolean NOT NULL DEFAULT false,
      generation integer NOT NULL DEFAULT 0, table_name text, PRIMARY KEY (namespace, entity));
    CREATE TABLE _mako.columns (namespace text NOT NULL, entity text NOT NULL, field text NOT NULL, column_name text NOT NULL, type text NOT NULL,
      position integer NOT NULL, PRIMARY KEY (namespace, entity, field));
    CREATE SCHEMA legacy;
    CREATE TABLE legacy.items (id bigint NOT NULL, name text, _mako_synced_at timestamptz NOT NULL, _mako_deleted_at timestamptz, PRIMARY KEY (id));
    INSERT INTO _mako.tables VALUES ('legacy', 'items', '["id"]', false, 1, 'items');
    INSERT INTO _mako.columns VALUES ('legacy', 'items', 'id', 'id', 'integer', 1), ('legacy', 'items', 'name', 'name', 'text', 2);
    INSERT INTO legacy.items VALUES (1, 'old one', '${OLD_SYNC}', NULL), (2, 'old two', '${OLD_SYNC}', NULL);`);
  await c.end();
  return PostgresDestination.open(`${PG}/${name}`, { bulk });
}

const checkpoint = (seq: number, extra: Partial<EntityCheckpoint> = {}): EntityCheckpoint => ({
  runId: "r",
  seq,
  mode: "incremental",
  since: null,
  passStartedAt: "2024-06-01T00:00:00.000Z",
  fetchState: { hasMore: true, offset: seq },
  maxCursor: null,
  highWaterMark: null,
  records: seq,
  ...extra,
});

describe.each(Object.keys(kinds))("the version guard on %s", (kind) => {
  let d: Destination;
  let entities = 0;
  const fresh = (): TableRef => ({ namespace: "guarded", entity: `e${++entities}` });
  const now = () => new Date().toISOString();
  const apply = (table: TableRef, records: DataRecord[], extra: { syncedAt?: string; fence?: number } = {}) =>
    d.applyChanges({ table, primaryKey: ["id"], records, syncedAt: extra.syncedAt ?? now(), fence: extra.fence });
  let seq = 0;
  const chunk = (table: TableRef, records: DataRecord[], extra: Partial<EntityCheckpoint> = {}, syncedAt = now()) =>
    d.writeChunk({ table, primaryKey: ["id"], records, checkpoint: checkpoint(++seq, extra), syncedAt });
  const rows = async (table: TableRef) => {
    const got = await d.readRows(table, { limit: 1000, offset: 0 });
    return new Map(got.map((r) => [Number(r.id), r]));
  };
  const row = async (table: TableRef, id: number) => (await rows(table)).get(id)!;

  beforeAll(async () => {
    d = await kinds[kind](); // an unreachable server fails here, loudly
  });
  afterAll(async () => {
    await d?.close();
  });

  it("an update at T+2 applied before one at T+1 leaves T+2; the same version re-applied leaves the same row", async () => {
    const t = fresh();
    const syncedAt = now();
    expect(await apply(t, [{ id: 1, name: "at T+2", _mako_version: T + 2 }], { syncedAt })).toEqual({ applied: 1, skipped: 0 });
    expect(await apply(t, [{ id: 1, name: "at T+1", _mako_version: T + 1 }])).toEqual({ applied: 0, skipped: 1 });
    const held = await row(t, 1);
    expect(held).toMatchObject({ name: "at T+2", _mako_version: T + 2, _mako_deleted_at: null });
    await apply(t, [{ id: 1, name: "at T+2", _mako_version: T + 2 }], { syncedAt });
    expect(await row(t, 1)).toEqual(held);
    // In one batch too: the highest version wins whatever the order; superseded records count as skipped.
    expect(await apply(t, [{ id: 2, name: "b", _mako_version: T + 5 }, { id: 2, name: "a", _mako_version: T + 4 }])).toEqual({ applied: 1, skipped: 1 });
    expect((await row(t, 2)).name).toBe("b");
  });

  it("a delete at T+3 then an update at T+2 leaves the row deleted, with its delete time; a later update revives it", async () => {
    const t = fresh();
    await apply(t, [{ id: 1, name: "alive", _mako_version: T + 1 }]);
    await apply(t, [markDeleted({ id: 1, name: "alive", _mako_version: T + 3 }, "2024-07-01T00:00:03.000Z")]);
    const deleted = await row(t, 1);
    expect(deleted._mako_deleted_at).not.toBeNull();
    expect(deleted._mako_version).toBe(T + 3);
    expect(await apply(t, [{ id: 1, name: "late update", _mako_version: T + 2 }])).toEqual({ applied: 0, skipped: 1 });
    expect(await row(t, 1)).toEqual(deleted);
    await apply(t, [{ id: 1, name: "back", _mako_version: T + 4 }]);
    expect(await row(t, 1)).toMatchObject({ name: "back", _mako_deleted_at: null, _mako_version: T + 4 });
  });

  it("a chunk without versions replaces unconditionally; one with an older version does not overwrite a newer webhook row", async () => {
    const t = fresh();
    await apply(t, [{ id: 1, name: "hook", _mako_version: T + 5 }, { id: 2, name: "hook", _mako_version: T + 5 }]);
    await chunk(t, [{ id: 1, name: "pull, unversioned" }]);
    expect(await row(t, 1)).toMatchObject({ name: "pull, unversioned", _mako_version: null });
    await chunk(t, [
      { id: 2, name: "pull at T+1", _mako_version: T + 1 },
      { id: 3, name: "new at T+1", _mako_version: T + 1 },
    ]);
    const got = await rows(t);
    expect(got.get(2)).toMatchObject({ name: "hook", _mako_version: T + 5 });
    expect(got.get(3)).toMatchObject({ name: "new at T+1", _mako_version: T + 1 }); // new keys are always inserted
    // A stored NULL is older than anything.
    await apply(t, [{ id: 1, name: "hook again", _mako_version: T }]);
    expect((await row(t, 1)).name).toBe("hook again");
  });

  it("full refresh: the changes of the pass, applied after the swap, win over the older rows the pass read", async () => {
    const t = fresh();
    const before = "2024-06-01T00:00:00.000Z";
    await chunk(t, [1, 2, 3].map((id) => ({ id, name: `v0 ${id}`, _mako_version: T })), {}, before);
    const passStartedAt = "2024-06-02T00:00:00.000Z";
    const pass = { mode: "full_refresh" as const, passStartedAt };
    // The pass reads 1, 2, 3 at T+1 into its shadow; meanwhile webhooks change the live table.
    await chunk(t, [1, 2, 3].map((id) => ({ id, name: `read ${id}`, _mako_version: T + 1 })), pass, "2024-06-02T00:00:01.000Z");
    const changes: DataRecord[] = [
      { id: 9, name: "created by webhook", _mako_version: T + 5 },
      { id: 1, name: "updated by webhook", _mako_version: T + 5 },
      markDeleted({ id: 2, name: "deleted by webhook", _mako_version: T + 5 }, "2024-06-02T00:00:02.000Z"),
      { id: 3, name: "stale webhook", _mako_version: T }, // older than the pass's read: refused
    ];
    await apply(t, changes, { syncedAt: "2024-06-02T00:00:02.000Z" });
    expect((await rows(t)).get(9)?.name).toBe("created by webhook"); // live, not in the pass's shadow
    const { deleted } = await d.completeEntity({
      table: t,
      primaryKey: ["id"],
      checkpoint: checkpoint(0, { ...pass, fetchState: null }),
      markUnseenDeletedBefore: passStartedAt,
      deletedAt: "2024-06-02T00:01:00.000Z",
      changes,
    });
    expect(deleted).toBe(0);
    const got = await rows(t);
    expect([...got.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 9]);
    expect(got.get(9)).toMatchObject({ name: "created by webhook", _mako_deleted_at: null, _mako_version: T + 5 });
    expect(got.get(1)).toMatchObject({ name: "updated by webhook", _mako_deleted_at: null, _mako_version: T + 5 });
    expect(got.get(2)?._mako_deleted_at).not.toBeNull();
    expect(got.get(2)).toMatchObject({ name: "deleted by webhook", _mako_version: T + 5 });
    expect(got.get(3)).toMatchObject({ name: "read 3", _mako_deleted_at: null, _mako_version: T + 1 });
  });

  it("full refresh: marking unseen rows deleted keeps their version, so a later change still wins", async () => {
    const t = fresh();
    await chunk(t, [{ id: 1, name: "old", _mako_version: T }, { id: 2, name: "old", _mako_version: T }], {}, "2024-06-01T00:00:00.000Z");
    const pass = { mode: "full_refresh" as const, passStartedAt: "2024-06-02T00:00:00.000Z" };
    await chunk(t, [{ id: 2, name: "read", _mako_version: T + 1 }], pass, "2024-06-02T00:00:01.000Z");
    const change = { id: 1, name: "webhook", _mako_version: T + 2 };
    await d.completeEntity({
      table: t,
      primaryKey: ["id"],
      checkpoint: checkpoint(0, { ...pass, fetchState: null }),
      markUnseenDeletedBefore: pass.passStartedAt,
      deletedAt: "2024-06-02T00:01:00.000Z",
      changes: [change],
    });
    expect(await row(t, 1)).toMatchObject({ name: "webhook", _mako_deleted_at: null, _mako_version: T + 2 });
    // A full refresh that wrote no rows (no shadow) applies its changes to the live table, after marking.
    const again = { mode: "full_refresh" as const, passStartedAt: "2024-06-03T00:00:00.000Z" };
    const { deleted } = await d.completeEntity({
      table: t,
      primaryKey: ["id"],
      checkpoint: checkpoint(0, { ...again, fetchState: null }),
      markUnseenDeletedBefore: again.passStartedAt,
      deletedAt: "2024-06-03T00:01:00.000Z",
      changes: [{ id: 2, name: "webhook", _mako_version: T + 3 }],
    });
    expect(deleted).toBe(2);
    const got = await rows(t);
    expect(got.get(1)).toMatchObject({ name: "webhook", _mako_version: T + 2 });
    expect(got.get(1)?._mako_deleted_at).not.toBeNull();
    expect(got.get(2)).toMatchObject({ name: "webhook", _mako_deleted_at: null, _mako_version: T + 3 });
  });

  it("applyChanges with a stale fence is refused and writes nothing; the checkpoint is never touched", async () => {
    const t = fresh();
    await chunk(t, [{ id: 1, name: "pulled" }]);
    const stored = await d.loadCheckpoint(t);
    await d.raiseFence(t, 5);
    const stale = apply(t, [{ id: 1, name: "stale writer", _mako_version: T }, { id: 2, name: "stale writer", _mako_version: T }], { fence: 4 });
    await expect(stale).rejects.toThrow(StaleFenceError);
    const got = await rows(t);
    expect([...got.keys()]).toEqual([1]);
    expect(got.get(1)?.name).toBe("pulled");
    expect(await apply(t, [{ id: 2, name: "holder", _mako_version: T }], { fence: 5 })).toEqual({ applied: 1, skipped: 0 });
    expect(await d.loadCheckpoint(t)).toEqual(stored);
  });

  it("a version that is not an integer is refused in one line, and nothing is written", async () => {
    const t = fresh();
    await expect(apply(t, [{ id: 1, _mako_version: T }, { id: 2, _mako_version: "yesterday" }])).rejects.toThrow(
      'change 2: _mako_version must be an integer (microseconds since the Unix epoch), got "yesterday"',
    );
    await expect(chunk(t, [{ id: 3, _mako_version: 1.5 }])).rejects.toThrow("_mako_version must be an integer");
    expect((await rows(t)).size).toBe(0);
  });

  it("a table made before `_mako_version` existed gains it at its next write; its rows keep NULL", async () => {
    const columns = async () => (await d.listTables(LEGACY.namespace))[0].columns.map((c) => c.name);
    expect(await columns()).not.toContain("_mako_version");
    expect(await d.verifyTable(LEGACY)).toBeNull();
    expect(await apply(LEGACY, [{ id: 1, name: "webhook", _mako_version: T }])).toEqual({ applied: 1, skipped: 0 });
    expect(await columns()).toContain("_mako_version");
    const got = await rows(LEGACY);
    expect(got.get(1)).toMatchObject({ name: "webhook", _mako_version: T });
    expect(got.get(2)).toMatchObject({ name: "old two", _mako_version: null });
    expect(await d.verifyTable(LEGACY)).toBeNull();
    // NULL is older than anything: a pull at any version replaces the old row.
    await chunk(LEGACY, [{ id: 2, name: "pulled", _mako_version: 1 }]);
    expect((await row(LEGACY, 2)).name).toBe("pulled");
  });
});
