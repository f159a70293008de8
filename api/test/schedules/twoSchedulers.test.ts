import Database from "better-sqlite3";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { Mako } from "../../src/Mako";

// Two real `mako serve` processes, each with its scheduler ticking every 20 ms, share one
// store. The slots are made due by the test, not by the clock: each round moves the
// schedules' next slot into the past (as an outage would) once the previous round's runs have
// ended, so the count of runs does not depend on how fast a loaded machine syncs; what is
// raced is the claim itself, every round, by both processes. A slot fired twice shows as an
// extra run (the second fire starts one, or waits as pending and starts one later) or as a
// coalesced count. With PostgreSQL a fire hands the run to the workers: one `mako worker` runs
// them, and each scheduler's log says which fires were its own.

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = join(repo, "api/bin/mako.js");
const SERVER = "postgres://postgres@127.0.0.1:5432";
const SOURCES = ["alpha", "bravo"];
const ROUNDS = 15; // 15 rounds × 2 schedules = 30 due slots

const homes: string[] = [];
const children: ChildProcess[] = [];
let admin: pg.Client | undefined;
const databases: string[] = [];

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  for (const db of databases) await admin?.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin?.end();
  homes.forEach((h) => rmSync(h, { recursive: true, force: true }));
});

interface Served {
  pid: number;
  output(): string;
  stop(): Promise<number | null>;
}

/** `mako serve --no-ui --port 0` in a child process, ticking fast; resolves once it listens. */
const serve = (env: Record<string, string>) => spawnMako(["serve", "--no-ui", "--port", "0"], env, /Mako is serving http:\/\/127\.0\.0\.1:\d+/);

/** A `mako` command in a child process; resolves once its output matches `ready`. */
async function spawnMako(args: string[], env: Record<string, string>, ready: RegExp): Promise<Served> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repo,
    env: { ...process.env, MAKO_SCHEDULER_TICK_MS: "20", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stderr!.on("data", (d) => (out += d));
  await new Promise<void>((ok, fail) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (ready.test(out)) ok();
    });
    child.once("exit", (code) => fail(new Error(`mako ${args[0]} exited (${code}) before it was ready: ${out}`)));
  });
  return {
    pid: child.pid!,
    output: () => out,
    stop: () =>
      new Promise((ok) => {
        if (child.exitCode !== null) return ok(child.exitCode);
        child.once("exit", (code) => ok(code));
        child.kill("SIGTERM");
      }),
  };
}

interface Store {
  env: Record<string, string>;
  makeDue(): Promise<void>;
  runs(): Promise<{ source: string; status: string; triggered_by: string; pid: number }[]>;
  schedules(): Promise<{ source: string; pending: number | boolean; coalesced: number }[]>;
  close(): Promise<void>;
}

async function sqliteStore(home: string): Promise<Store> {
  const db = new Database(join(home, "mako.db"), { timeout: 5000 });
  return {
    env: { MAKO_HOME: home },
    makeDue: async () => void db.prepare(`UPDATE mako_schedules SET next_fire_at = ?`).run(new Date(Date.now() - 1000).toISOString()),
    runs: async () => db.prepare(`SELECT source, status, triggered_by, pid, error FROM mako_runs`).all() as never,
    schedules: async () => db.prepare(`SELECT source, pending, coalesced FROM mako_schedules ORDER BY source`).all() as never,
    close: async () => void db.close(),
  };
}

async function postgresStore(home: string, url: string): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => {});
  return {
    env: { MAKO_HOME: home, DATABASE_URL: url },
    makeDue: async () => void (await pool.query(`UPDATE mako.schedules SET next_fire_at = now() - interval '1 second'`)),
    runs: async () => (await pool.query(`SELECT source, status, triggered_by, pid FROM mako.runs`)).rows,
    schedules: async () => (await pool.query(`SELECT source, pending, coalesced FROM mako.schedules ORDER BY source`)).rows,
    close: () => pool.end(),
  };
}

async function newPostgresDatabase(): Promise<string> {
  if (!admin) {
    admin = new pg.Client({ connectionString: `${SERVER}/test` });
    try {
      await admin.connect();
    } catch (err) {
      throw new Error(`these tests need PostgreSQL on 127.0.0.1:5432 (user postgres, db test): ${err.message}`);
    }
  }
  const name = `mako_twosched_${process.pid}_${Date.now().toString(36)}`;
  await admin.query(`CREATE DATABASE ${name}`);
  databases.push(name);
  return `${SERVER}/${name}`;
}

describe.each([
  ["one SQLite file", async (home: string) => ({ open: () => Mako.open({ home }), store: () => sqliteStore(home), workers: false })],
  [
    "one PostgreSQL database",
    async (home: string) => {
      const url = await newPostgresDatabase();
      return { open: () => Mako.open({ home, databaseUrl: url }), store: () => postgresStore(home, url), workers: true };
    },
  ],
])("two mako serve schedulers on %s", (_kind, prepare) => {
  it(`fire ${ROUNDS * SOURCES.length} due slots exactly once each: ${ROUNDS * SOURCES.length} runs`, async () => {
    const home = mkdtempSync(join(tmpdir(), "mako-twosched-"));
    homes.push(home);
    const { open, store: openStore, workers } = await prepare(home);
    const mako = await open();
    try {
      for (const name of SOURCES) {
        await mako.sources.add({ name, connector: "sample", config: { count: 2, seed: 3 }, entities: ["users"] });
        // Yearly: no slot comes due by itself during the test.
        await mako.schedules.set(name, { cron: "0 0 1 1 *", timezone: "UTC" });
      }
    } finally {
      await mako.close();
    }
    const store = await openStore();
    const [a, b] = await Promise.all([serve(store.env), serve(store.env)]);
    // The worker's own scheduler is paused (a tick far away), so the fires are the two serves'.
    const worker = workers ? await spawnMako(["worker"], { ...store.env, MAKO_SCHEDULER_TICK_MS: "3600000" }, /takes entity jobs/) : undefined;
    try {
      const settled = async (expected: number) => {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const runs = await store.runs();
          if (runs.length >= expected && runs.every((r) => r.status !== "running")) return runs;
          if (Date.now() > deadline) throw new Error(`${runs.length} runs after 30 s, ${expected} expected; a: ${a.output()} b: ${b.output()} worker: ${worker?.output()}`);
          await new Promise((r) => setTimeout(r, 25));
        }
      };
      for (let round = 1; round <= ROUNDS; round++) {
        await store.makeDue();
        await settled(round * SOURCES.length);
      }
      // Forty more ticks of each: a slot claimed twice would show up by now.
      await new Promise((r) => setTimeout(r, 800));
      const runs = await settled(ROUNDS * SOURCES.length);
      expect(runs).toHaveLength(ROUNDS * SOURCES.length);
      expect(runs.filter((r) => r.status !== "succeeded" || r.triggered_by !== "schedule")).toEqual([]);
      for (const name of SOURCES) expect(runs.filter((r) => r.source === name)).toHaveLength(ROUNDS);
      // Both schedulers took part, each firing its own slots: the claims were raced, not left to one.
      const fires = (s: Served) => s.output().match(/schedule of "\w+": run \S+ (succeeded|queued for the workers)/g)?.length ?? 0;
      expect(fires(a)).toBeGreaterThan(0);
      expect(fires(b)).toBeGreaterThan(0);
      expect(fires(a) + fires(b)).toBe(ROUNDS * SOURCES.length);
      // A run records the process that started it: the scheduler's, whether it syncs or queues.
      expect(new Set(runs.map((r) => r.pid))).toEqual(new Set([a.pid, b.pid]));
      expect((await store.schedules()).map((s) => [s.source, Boolean(s.pending), s.coalesced])).toEqual(SOURCES.map((s) => [s, false, 0]));
    } finally {
      if (worker) expect(await worker.stop()).toBe(0);
      expect(await a.stop()).toBe(0);
      expect(await b.stop()).toBe(0);
      await store.close();
    }
  }, 120_000);
});
