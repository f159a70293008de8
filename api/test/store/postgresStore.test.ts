import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mako } from "../../src/Mako";
import { ConflictError, NotFoundError, SourceBusyError } from "../../src/store/MetadataStore";
import { PostgresStore } from "../../src/store/PostgresStore";
import { SecretBox } from "../../src/store/SecretBox";
import type { EntityResult } from "../../src/sync/events";

// A database of its own per run: Mako's schema is fixed (`mako`), and runs of this file may overlap.
const SERVER = "postgres://postgres@127.0.0.1:5432";
const database = `mako_store_${process.pid}_${Date.now().toString(36)}`;
const url = `${SERVER}/${database}`;
const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = join(repo, "api/bin/mako.js");

let admin: pg.Client;
let db: pg.Pool;
let store: PostgresStore;
const homes: string[] = [];
const newHome = () => {
  const home = mkdtempSync(join(tmpdir(), "mako-pgstore-"));
  homes.push(home);
  return home;
};
const boxFor = (home: string) => SecretBox.forHome(home, {});

beforeAll(async () => {
  admin = new pg.Client({ connectionString: `${SERVER}/test` });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`these tests need PostgreSQL on 127.0.0.1:5432 (user postgres, db test): ${err.message}`);
  }
  await admin.query(`CREATE DATABASE ${database}`);
  db = new pg.Pool({ connectionString: url, max: 2 });
  db.on("error", () => {}); // DROP DATABASE … WITH (FORCE) may end a connection still closing
  store = await PostgresStore.open(url, boxFor(newHome()));
});

afterAll(async () => {
  await store?.close();
  await db?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin?.end();
  homes.forEach((h) => rmSync(h, { recursive: true, force: true }));
});

/** The pid of a process that has exited: a run recorded with it died. */
const deadPid = () => spawnSync(process.execPath, ["-e", ""]).pid!;

describe("PostgresStore", () => {
  it("adds, reads, lists, updates and removes sources, their config sealed at rest", async () => {
    const config = { apiKey: "sk_live_plaintext_secret", count: 5 };
    const added = await store.addSource({ name: "crm", connector: "sample", config, settings: { requestsPerSecond: 3 }, destination: null });
    expect(added).toMatchObject({ name: "crm", connector: "sample", config, settings: { requestsPerSecond: 3 }, destination: null });
    expect(added.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const { rows } = await db.query(`SELECT config_sealed, settings_json FROM mako.sources WHERE name = 'crm'`);
    expect(rows[0].config_sealed).not.toContain("sk_live_plaintext_secret");
    expect(rows[0].config_sealed).toMatch(/^v1:/);
    expect(rows[0].settings_json).toEqual({ requestsPerSecond: 3 });

    await expect(store.addSource({ name: "crm", connector: "sample", config: {}, settings: {}, destination: null })).rejects.toThrow(
      new ConflictError(`a source named "crm" already exists`),
    );
    await store.addSource({ name: "billing", connector: "sample", config: {}, settings: {}, destination: null });
    expect((await store.listSources()).map((s) => s.name)).toEqual(["billing", "crm"]);

    const updated = await store.updateSource("crm", { config: { apiKey: "sk_new", count: 6 } });
    expect(updated.config).toEqual({ apiKey: "sk_new", count: 6 });
    expect(updated.settings).toEqual({ requestsPerSecond: 3 });
    expect(updated.updatedAt >= added.updatedAt).toBe(true);

    await store.removeSource("billing");
    await expect(store.getSource("billing")).rejects.toThrow(NotFoundError);
    await expect(store.removeSource("billing")).rejects.toThrow(/no source named "billing"/);

    // Another key cannot read the sealed config, and says which key it used.
    const stranger = await PostgresStore.open(url, boxFor(newHome()));
    try {
      await expect(stranger.getSource("crm")).rejects.toThrow(/cannot decrypt the config of source "crm": the key \(.*secret\.key\)/);
    } finally {
      await stranger.close();
    }
  });

  it("keeps a source's entity selection (none = all), and adds its column to a database made before it", async () => {
    const picked = await store.addSource({ name: "picked", connector: "sample", config: {}, settings: {}, destination: null, entities: ["users", "purchases"] });
    expect(picked.entities).toEqual(["users", "purchases"]);
    expect((await store.addSource({ name: "everything", connector: "sample", config: {}, settings: {}, destination: null })).entities).toBeNull();
    expect((await store.updateSource("picked", { entities: [] })).entities).toBeNull();
    expect((await store.updateSource("picked", { entities: ["products"] })).entities).toEqual(["products"]);
    // Other changes keep the selection.
    expect((await store.updateSource("picked", { settings: { batchSize: 5 } })).entities).toEqual(["products"]);

    // A database from before the column: opening it adds the column, the sources read as "all".
    await db.query(`ALTER TABLE mako.sources DROP COLUMN entities_json`);
    const reopened = await PostgresStore.open(url, boxFor(homes[0]));
    try {
      expect((await reopened.getSource("picked")).entities).toBeNull();
      expect((await reopened.updateSource("picked", { entities: ["users"] })).entities).toEqual(["users"]);
      const { rows } = await db.query(`SELECT entities_json FROM mako.sources WHERE name = 'picked'`);
      expect(rows[0].entities_json).toEqual(["users"]);
    } finally {
      await reopened.close();
    }
    await store.removeSource("picked");
    await store.removeSource("everything");
  });

  it("keeps destinations with their URL sealed, and refuses to remove one a source uses", async () => {
    const d = await store.addDestination({ name: "wh", kind: "postgres", url: "postgres://loader:hunter2pw@db.example:5432/wh" });
    expect(d).toMatchObject({ name: "wh", kind: "postgres", url: "postgres://loader:hunter2pw@db.example:5432/wh" });
    const { rows } = await db.query(`SELECT url_sealed FROM mako.destinations WHERE name = 'wh'`);
    expect(rows[0].url_sealed).not.toContain("hunter2pw");
    await expect(store.addDestination({ name: "wh", kind: "mysql", url: "mysql://x" })).rejects.toThrow(ConflictError);
    expect((await store.listDestinations()).map((x) => x.name)).toEqual(["wh"]);

    await store.addSource({ name: "uses_wh", connector: "sample", config: {}, settings: {}, destination: "wh" });
    await expect(store.removeDestination("wh")).rejects.toThrow(new ConflictError(`destination "wh" is the default of source "uses_wh"`));
    await store.removeSource("uses_wh");
    await store.removeDestination("wh");
    await expect(store.getDestination("wh")).rejects.toThrow(/no destination named "wh"/);
    await expect(store.removeDestination("wh")).rejects.toThrow(NotFoundError);
  });

  it("records runs: one live run per source, even when processes race; finished runs free it", async () => {
    await store.addSource({ name: "runs_src", connector: "sample", config: {}, settings: {}, destination: null });
    const run = await store.startRun({ id: "r1", source: "runs_src", fullRefresh: true, destination: null });
    expect(run).toMatchObject({ id: "r1", status: "running", fullRefresh: true, pid: process.pid, host: hostname(), finishedAt: null });
    expect(run.stats).toEqual({ requests: 0, retries: 0, rateLimited: 0, waitMs: 0 });
    await expect(store.startRun({ id: "r2", source: "runs_src", fullRefresh: false, destination: null })).rejects.toThrow(
      new SourceBusyError("runs_src", "r1"),
    );

    const entities: EntityResult[] = [
      { entity: "users", status: "running", records: 10, chunks: 1, seconds: 0.5, deleted: 0, resumed: false, mode: "full_refresh", since: null, chunkRetries: 0 },
    ];
    expect(await store.updateRun("r1", { entities, addStats: { requests: 3, retries: 1, rateLimited: 0, waitMs: 20 } })).toEqual({ cancelRequested: false });
    expect((await store.getRun("r1")).stats).toEqual({ requests: 3, retries: 1, rateLimited: 0, waitMs: 20 });
    // A cancel asked through the store is what the running process reads at its next write.
    expect(await store.requestCancel("r1")).toBe(true);
    // Counters add up: each write sends what moved since the last.
    expect(await store.updateRun("r1", { entities, addStats: { requests: 1, retries: 0, rateLimited: 2, waitMs: 5 } })).toEqual({ cancelRequested: true });
    expect((await store.getRun("r1")).stats).toEqual({ requests: 4, retries: 1, rateLimited: 2, waitMs: 25 });
    const done = entities.map((e) => ({ ...e, status: "succeeded" as const }));
    await store.updateRun("r1", { entities: done, addStats: { requests: 0, retries: 0, rateLimited: 0, waitMs: 0 } });
    await store.finishRun("r1", { status: "succeeded", error: null });
    const finished = await store.getRun("r1");
    expect(finished).toMatchObject({ status: "succeeded", entities: done, error: null, executor: "process" });
    // A run already ended keeps its end.
    await store.finishRun("r1", { status: "failed", error: "late" });
    expect((await store.getRun("r1")).status).toBe("succeeded");
    expect(await store.requestCancel("r1")).toBe(false);
    expect(finished.finishedAt! >= finished.startedAt).toBe(true);

    // Eight starts on four connections of two stores at once: exactly one wins.
    const other = await PostgresStore.open(url, boxFor(newHome()));
    try {
      const attempts = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? other : store).startRun({ id: `race${i}`, source: "runs_src", fullRefresh: false, destination: null })),
      );
      expect(attempts.filter((a) => a.status === "fulfilled")).toHaveLength(1);
      for (const a of attempts) if (a.status === "rejected") expect(a.reason).toBeInstanceOf(SourceBusyError);
    } finally {
      await other.close();
    }
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM mako.runs WHERE source = 'runs_src' AND status = 'running'`);
    expect(rows[0].n).toBe(1);

    const listed = await store.listRuns({ source: "runs_src" });
    expect(listed).toHaveLength(2);
    expect(listed[1].id).toBe("r1"); // newest first
    expect((await store.listRuns({ source: "runs_src", limit: 1 })).map((r) => r.id)).toEqual([listed[0].id]);
    await expect(store.getRun("nope")).rejects.toThrow(new NotFoundError(`no run with id "nope"`));
  });

  it("marks failed a run whose process died on this host, freeing its source", async () => {
    await store.addSource({ name: "reaped", connector: "sample", config: {}, settings: {}, destination: null });
    await store.startRun({ id: "dead1", source: "reaped", fullRefresh: false, destination: null });
    const pid = deadPid();
    await db.query(`UPDATE mako.runs SET pid = $1 WHERE id = 'dead1'`, [pid]);
    // A run of another host is not this host's to judge.
    await store.addSource({ name: "remote", connector: "sample", config: {}, settings: {}, destination: null });
    await store.startRun({ id: "remote1", source: "remote", fullRefresh: false, destination: null });
    await db.query(`UPDATE mako.runs SET pid = $1, host = 'another-host' WHERE id = 'remote1'`, [pid]);

    const reaped = await store.getRun("dead1");
    expect(reaped.status).toBe("failed");
    expect(reaped.error).toBe(`the process running it (pid ${pid}) stopped; the next sync resumes from the last checkpoint`);
    expect((await store.getRun("remote1")).status).toBe("running");
    expect((await store.startRun({ id: "dead2", source: "reaped", fullRefresh: false, destination: null })).status).toBe("running");
  });

  it("fails a run of any host once its heartbeat is older than its lease, on the database clock", async () => {
    await store.addSource({ name: "silent", connector: "sample", config: {}, settings: {}, destination: null });
    await store.startRun({ id: "silent1", source: "silent", fullRefresh: false, destination: null, entities: ["users"] });
    // Another host's process, still beating: alive, whatever this host knows of its pid.
    await db.query(`UPDATE mako.runs SET host = 'far-host', pid = 1 WHERE id = 'silent1'`);
    expect((await store.getRun("silent1")).status).toBe("running");
    // Its last heartbeat older than its lease: dead, whichever host asks.
    await db.query(`UPDATE mako.runs SET heartbeat_at = now() - make_interval(secs => lease_seconds + 1) WHERE id = 'silent1'`);
    const dead = await store.getRun("silent1");
    expect(dead).toMatchObject({ status: "failed", error: "the process running it (pid 1 on far-host) stopped; the next sync resumes from the last checkpoint" });
    expect(dead.entities.map((e) => [e.entity, e.status])).toEqual([["users", "interrupted"]]);
    // A progress write of the run, should its process come back, is told to stop.
    expect(await store.updateRun("silent1", { entities: dead.entities, addStats: { requests: 0, retries: 0, rateLimited: 0, waitMs: 0 } })).toEqual({ cancelRequested: true });
  });

  it("moves each run's entities from the old blob to a row each, in order, when it opens a database made before", async () => {
    await store.addSource({ name: "blob", connector: "sample", config: {}, settings: {}, destination: null });
    await store.startRun({ id: "blob1", source: "blob", fullRefresh: false, destination: null });
    const entities: EntityResult[] = ["users", "products"].map((entity, i) => ({
      entity, status: "succeeded", records: i + 7, chunks: 1, seconds: 1, deleted: 0, resumed: false, mode: "incremental", since: null, chunkRetries: 0,
    }));
    await db.query(`UPDATE mako.runs SET entities_json = $1, status = 'succeeded' WHERE id = 'blob1'`, [JSON.stringify(entities)]);
    await db.query(`DELETE FROM mako.run_entities WHERE run_id = 'blob1'`);
    const reopened = await PostgresStore.open(url, boxFor(homes[0]));
    try {
      expect((await reopened.getRun("blob1")).entities).toEqual(entities);
      const { rows } = await db.query(`SELECT entities_json FROM mako.runs WHERE id = 'blob1'`);
      expect(rows[0].entities_json).toEqual([]);
    } finally {
      await reopened.close();
    }
  });

  it("appends logs in batches and pages through them by id", async () => {
    await store.addSource({ name: "logged", connector: "sample", config: {}, settings: {}, destination: null });
    await store.startRun({ id: "log1", source: "logged", fullRefresh: false, destination: null });
    const at = new Date().toISOString();
    await store.appendLogs([]);
    await store.appendLogs(
      Array.from({ length: 5 }, (_, i) => ({ runId: "log1", at, level: i === 4 ? ("error" as const) : ("info" as const), entity: i ? "users" : null, message: `line ${i} 'quoted' \u{1F600}` })),
    );
    const all = await store.getLogs("log1");
    expect(all.map((l) => l.message)).toEqual([0, 1, 2, 3, 4].map((i) => `line ${i} 'quoted' \u{1F600}`));
    expect(all[0]).toMatchObject({ runId: "log1", at, level: "info", entity: null });
    expect(all[4]).toMatchObject({ level: "error", entity: "users" });
    expect(typeof all[0].id).toBe("number");
    const page = await store.getLogs("log1", { afterId: all[1].id, limit: 2 });
    expect(page.map((l) => l.id)).toEqual([all[2].id, all[3].id]);
    expect(await store.getLogs("other-run")).toEqual([]);
  });
});

describe("Mako with DATABASE_URL", () => {
  it("fails in one line naming the server when the URL is unreachable or wrong", async () => {
    const home = newHome();
    await expect(Mako.open({ home, databaseUrl: "postgres://postgres:pw@127.0.0.1:5999/test" })).rejects.toThrow(
      /^cannot use PostgreSQL at 127\.0\.0\.1:5999\/test \(DATABASE_URL\) for Mako's metadata: connect ECONNREFUSED 127\.0\.0\.1:5999$/,
    );
    await expect(Mako.open({ home, databaseUrl: `${SERVER}/no_such_db_${process.pid}` })).rejects.toThrow(
      /^cannot use PostgreSQL at 127\.0\.0\.1:5432\/no_such_db_\d+ .*database "no_such_db_\d+" does not exist$/,
    );
    await expect(Mako.open({ home, databaseUrl: "mysql://root@127.0.0.1/test" })).rejects.toThrow(/databaseUrl must start with postgres:\/\//);
  });

  it("refuses a source named like Mako's own schema", async () => {
    const mako = await Mako.open({ home: newHome(), databaseUrl: url });
    try {
      expect(mako.embedded).toBeNull();
      expect(mako.defaultDestination.kind).toBe("postgres");
      await expect(mako.sources.add({ name: "mako", connector: "sample", config: {} })).rejects.toThrow(/schema "mako" holds Mako's metadata/);
    } finally {
      await mako.close();
    }
  });

  it("CLI end to end: sources, the synced rows and the run all live in PostgreSQL; MAKO_HOME holds only the key", async () => {
    const home = newHome();
    const env: NodeJS.ProcessEnv = { ...process.env, MAKO_HOME: home, DATABASE_URL: url };
    delete env.MAKO_SECRET_KEY;
    const cli = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((ok) =>
        execFile(process.execPath, [bin, ...args], { cwd: repo, env }, (err, stdout, stderr) =>
          ok({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
        ),
      );

    const added = await cli("sources", "add", "s", "--connector", "sample", "--config-json", '{"count":500}');
    expect(added.code, added.stderr).toBe(0);
    const synced = await cli("sync", "s");
    expect(synced.code, synced.stderr).toBe(0);
    const runs = await cli("runs");
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toMatch(/^run_\S+\s+s\s+succeeded/m);

    const users = await db.query(`SELECT count(*)::int AS n FROM s.users`);
    expect(users.rows[0].n).toBe(500);
    const run = await db.query(`SELECT id, status, source FROM mako.runs WHERE source = 's'`);
    expect(run.rows).toHaveLength(1);
    expect(run.rows[0].status).toBe("succeeded");
    const entities = await db.query(`SELECT entity, status, result_json FROM mako.run_entities WHERE run_id = $1 ORDER BY position`, [run.rows[0].id]);
    expect(entities.rows.map((e) => e.entity)).toEqual(["users", "products", "purchases"]);
    expect(entities.rows.find((e) => e.entity === "users")).toMatchObject({ status: "succeeded", result_json: { records: 500 } });
    const state = await db.query(`SELECT entity FROM _mako.state WHERE namespace = 's' ORDER BY entity`);
    expect(state.rows.map((r) => r.entity)).toEqual(["products", "purchases", "users"]);
    expect(readdirSync(home)).toEqual(["secret.key"]);

    // mako sql reads the same database, and only reads.
    const count = await cli("sql", "SELECT count(*)::int AS n FROM s.users", "--json");
    expect(count.stdout.trim(), count.stderr).toBe('{"n":500}');
    const write = await cli("sql", "DELETE FROM s.users");
    expect(write.stderr.trim()).toBe("error: SQL error: cannot execute DELETE in a read-only transaction");
    const escape = await cli("sql", "COMMIT; DROP TABLE s.users");
    expect(escape.code).not.toBe(0);
    expect((await db.query(`SELECT count(*)::int AS n FROM s.users`)).rows[0].n).toBe(500);

    env.DATABASE_URL = "postgres://postgres@127.0.0.1:5999/test";
    const bad = await cli("runs");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trimEnd().split("\n")).toEqual([
      "error: cannot use PostgreSQL at 127.0.0.1:5999/test (DATABASE_URL) for Mako's metadata: connect ECONNREFUSED 127.0.0.1:5999",
    ]);
  });
});
