import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mako } from "../../src/Mako";
import { InProcessLauncher, Scheduler } from "../../src/schedules";
import { NotFoundError, type RunRecord } from "../../src/store/MetadataStore";

// Schedules kept in each store, fired by a real scheduler over real syncs of the sample
// source. Each test makes a slot due by moving the row's next_fire_at into the past, as an
// outage would leave it, and ticks by hand: nothing here waits on a timer.

const SERVER = "postgres://postgres@127.0.0.1:5432";
const database = `mako_sched_${process.pid}_${Date.now().toString(36)}`;

interface Harness {
  mako: Mako;
  /** Runs SQL on the metadata database, outside Mako. */
  sql(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  table: string;
  runsTable: string;
  /** Another Mako on the same metadata, as the next process to start would open it. */
  reopen(): Promise<Mako>;
  close(): Promise<void>;
}

const homes: string[] = [];
const newHome = () => {
  const home = mkdtempSync(join(tmpdir(), "mako-sched-"));
  homes.push(home);
  return home;
};
let admin: pg.Client | undefined;

async function sqliteHarness(): Promise<Harness> {
  const home = newHome();
  const mako = await Mako.open({ home });
  const db = new Database(join(home, "mako.db"));
  return {
    mako,
    table: "mako_schedules",
    runsTable: "mako_runs",
    reopen: () => Mako.open({ home }),
    sql: async (text, params = []) => {
      const statement = db.prepare(text.replace(/\$\d+/g, "?"));
      return statement.reader ? (statement.all(...params) as Record<string, unknown>[]) : (statement.run(...params), []);
    },
    close: async () => {
      db.close();
      await mako.close();
    },
  };
}

async function postgresHarness(): Promise<Harness> {
  if (!admin) {
    admin = new pg.Client({ connectionString: `${SERVER}/test` });
    try {
      await admin.connect();
    } catch (err) {
      throw new Error(`these tests need PostgreSQL on 127.0.0.1:5432 (user postgres, db test): ${err.message}`);
    }
    await admin.query(`CREATE DATABASE ${database}`);
  }
  const url = `${SERVER}/${database}`;
  const mako = await Mako.open({ home: newHome(), databaseUrl: url });
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on("error", () => {});
  return {
    mako,
    table: "mako.schedules",
    runsTable: "mako.runs",
    reopen: () => Mako.open({ home: newHome(), databaseUrl: url }),
    sql: async (text, params = []) => (await pool.query(text, params)).rows,
    close: async () => {
      await pool.end();
      await mako.close();
    },
  };
}

afterAll(async () => {
  await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin?.end();
  homes.forEach((h) => rmSync(h, { recursive: true, force: true }));
});

async function untilEnded(mako: Mako, runId: string): Promise<RunRecord> {
  for (let i = 0; i < 600; i++) {
    const run = await mako.runs.get(runId);
    if (run.status !== "running") return run;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${runId} did not end`);
}

describe.each([
  ["SQLite", sqliteHarness],
  ["PostgreSQL", postgresHarness],
])("schedules in %s", (_kind, open) => {
  let h: Harness;
  let scheduler: Scheduler;
  /** Moves a schedule's next slot to `iso`, as if the scheduler had been down since. */
  const dueAt = (source: string, iso: string) => h.sql(`UPDATE ${h.table} SET next_fire_at = $1 WHERE source = $2`, [iso, source]);
  const runsOf = async (source: string) => (await h.mako.runs.list({ source, limit: 100 })).reverse();
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

  beforeAll(async () => {
    h = await open();
    scheduler = new Scheduler(h.mako.store.schedules, new InProcessLauncher(h.mako));
    for (const name of ["tiny", "slow", "outage", "lapsed", "paused", "gone"]) {
      // "slow" runs until cancelled, and stops within a page (one page per chunk).
      const config = name === "slow" ? { count: 100_000, seed: 1, page_delay_ms: 200 } : { count: 3, seed: 1 };
      await h.mako.sources.add({ name, connector: "sample", config, settings: { batchSize: 100, maxIterations: 1 }, entities: name === "slow" ? null : ["users"] });
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it("sets, lists, pauses, resumes and removes schedules; a removed source takes its schedule along", async () => {
    const set = await h.mako.schedules.set("tiny", { cron: "30 2 * * *", timezone: "Europe/Paris" });
    expect(set).toMatchObject({ source: "tiny", cron: "30 2 * * *", timezone: "Europe/Paris", misfire: "coalesce", paused: false, pending: false, coalesced: 0 });
    expect(set.nextFireTimes).toHaveLength(3);
    // 02:30 in Paris is 00:30 or 01:30 UTC, whatever the day.
    for (const t of set.nextFireTimes) expect(t).toMatch(/T0[01]:30:00\.000Z$/);
    expect(Date.parse(set.nextFireAt!)).toBeGreaterThan(Date.now() - 5000);

    const replaced = await h.mako.schedules.set("tiny", { cron: "@daily", timezone: "UTC", misfire: "skip" });
    expect(replaced).toMatchObject({ cron: "@daily", timezone: "UTC", misfire: "skip", createdAt: set.createdAt });
    expect(replaced.nextFireAt).toMatch(/T00:00:00\.000Z$/);

    expect((await h.mako.schedules.pause("tiny")).nextFireTimes).toEqual([]);
    expect((await h.mako.schedules.list()).map((s) => [s.source, s.paused])).toEqual([["tiny", true]]);
    // Set while paused: replaced, still paused.
    expect((await h.mako.schedules.set("tiny", { cron: "0 * * * *", timezone: "UTC" })).paused).toBe(true);
    const resumed = await h.mako.schedules.resume("tiny");
    expect(resumed.paused).toBe(false);
    expect(resumed.nextFireTimes).toHaveLength(3);

    await expect(h.mako.schedules.set("nope", { cron: "* * * * *" })).rejects.toThrow(new NotFoundError(`no source named "nope" (see: npx mako sources list)`));
    await expect(h.mako.schedules.pause("nope")).rejects.toThrow(/source "nope" has no schedule/);
    await h.mako.schedules.remove("tiny");
    await expect(h.mako.schedules.remove("tiny")).rejects.toThrow(/source "tiny" has no schedule/);
    expect(await h.mako.schedules.find("tiny")).toBeNull();

    await h.mako.schedules.set("gone", { cron: "0 * * * *", timezone: "UTC" });
    await h.mako.sources.remove("gone", { data: "keep" });
    expect(await h.mako.schedules.find("gone")).toBeNull();
    expect(await h.sql(`SELECT source FROM ${h.table} WHERE source = 'gone'`)).toEqual([]);
  });

  it("fires a due slot once: a run recorded as the schedule's, the next slot computed from the database's clock", async () => {
    await h.mako.schedules.set("tiny", { cron: "*/5 * * * *", timezone: "UTC" });
    await dueAt("tiny", ago(2000));
    const before = Date.now();
    const [report, ...others] = await scheduler.tick();
    expect(others).toEqual([]);
    expect(report.source).toBe("tiny");
    expect("runId" in report.outcome).toBe(true);
    const runId = (report.outcome as { runId: string }).runId;
    const run = await untilEnded(h.mako, runId);
    expect(run).toMatchObject({ status: "succeeded", trigger: "schedule" });
    expect(run.entities.map((e) => e.records)).toEqual([3]);

    const after = await h.mako.schedules.get("tiny");
    expect(after.lastRunId).toBe(runId);
    expect(Date.parse(after.lastFireAt!)).toBeGreaterThanOrEqual(before - 1000);
    const next = Date.parse(after.nextFireAt!);
    expect(next % 300_000).toBe(0);
    expect(next).toBeGreaterThan(before - 1000);
    expect(next).toBeLessThanOrEqual(Date.now() + 300_000);
    // Nothing more is due: a second tick fires nothing.
    expect(await scheduler.tick()).toEqual([]);
    expect((await runsOf("tiny")).filter((r) => r.trigger === "schedule")).toHaveLength(1);
    // A run started by hand says so.
    const manual = await h.mako.sync("tiny");
    await manual.done;
    expect((await h.mako.runs.get(manual.runId)).trigger).toBe("manual");
    await h.mako.schedules.remove("tiny");
  });

  it("misfire after an outage: coalesce fires the missed slots once, skip fires none past the grace", async () => {
    await h.mako.schedules.set("outage", { cron: "0 * * * *", timezone: "UTC", misfire: "coalesce" });
    await h.mako.schedules.set("lapsed", { cron: "0 * * * *", timezone: "UTC", misfire: "skip" });
    const threeDays = 3 * 86_400_000;
    await dueAt("outage", ago(threeDays));
    await dueAt("lapsed", ago(threeDays));

    const reports = await scheduler.tick();
    expect(reports.map((r) => r.source)).toEqual(["outage"]);
    await untilEnded(h.mako, (reports[0].outcome as { runId: string }).runId);
    expect(await scheduler.tick()).toEqual([]);
    expect((await runsOf("outage")).map((r) => r.trigger)).toEqual(["schedule"]);
    expect(await runsOf("lapsed")).toEqual([]);

    const outage = await h.mako.schedules.get("outage");
    const lapsed = await h.mako.schedules.get("lapsed");
    expect(outage).toMatchObject({ skipped: 0, coalesced: 0 });
    expect(lapsed).toMatchObject({ skipped: 1, lastFireAt: null, lastRunId: null });
    for (const s of [outage, lapsed]) {
      // Both moved on to the next hour after now, not to the slot after the missed one.
      expect(Date.parse(s.nextFireAt!)).toBeGreaterThan(Date.now() - 5000);
      expect(Date.parse(s.nextFireAt!)).toBeLessThanOrEqual(Date.now() + 3_600_000);
    }

    // Within the grace period a skip schedule still fires: its slot is merely late.
    await dueAt("lapsed", ago(5000));
    const late = await scheduler.tick();
    expect(late.map((r) => r.source)).toEqual(["lapsed"]);
    await untilEnded(h.mako, (late[0].outcome as { runId: string }).runId);
    expect(await runsOf("lapsed")).toHaveLength(1);
  });

  it("a fire while the source runs waits behind it once; further fires are counted as coalesced", async () => {
    await h.mako.schedules.set("slow", { cron: "0 0 1 1 *", timezone: "UTC" });
    const manual = await h.mako.sync("slow");

    await dueAt("slow", ago(1000));
    expect((await scheduler.tick()).map((r) => r.outcome)).toEqual([{ busy: true }]);
    expect(await h.mako.schedules.get("slow")).toMatchObject({ pending: true, coalesced: 0 });
    // A tick with only the pending fire: still busy, still one fire waiting.
    expect((await scheduler.tick()).map((r) => r.outcome)).toEqual([{ busy: true }]);
    expect(await h.mako.schedules.get("slow")).toMatchObject({ pending: true, coalesced: 0 });
    for (const expected of [1, 2]) {
      await dueAt("slow", ago(1000));
      expect((await scheduler.tick()).map((r) => r.outcome)).toEqual([{ busy: true }]);
      expect(await h.mako.schedules.get("slow")).toMatchObject({ pending: true, coalesced: expected });
    }
    expect((await runsOf("slow")).map((r) => r.trigger)).toEqual(["manual"]);

    await h.mako.runs.cancel(manual.runId);
    await manual.done;
    const [fired, ...more] = await scheduler.tick();
    expect(more).toEqual([]);
    expect(fired.slot).toBeNull(); // the pending fire, not a new slot
    const scheduledRun = (fired.outcome as { runId: string }).runId;
    expect(await h.mako.schedules.get("slow")).toMatchObject({ pending: false, coalesced: 2, lastRunId: scheduledRun });
    await h.mako.runs.cancel(scheduledRun);
    await untilEnded(h.mako, scheduledRun);
    expect(await scheduler.tick()).toEqual([]);
    expect((await runsOf("slow")).map((r) => r.trigger)).toEqual(["manual", "schedule"]);
    await h.mako.schedules.remove("slow");
  });

  it("paused: due slots do not fire and a waiting fire is dropped; resumed: from the next slot after now", async () => {
    await h.mako.schedules.set("paused", { cron: "0 * * * *", timezone: "UTC" });
    await h.sql(`UPDATE ${h.table} SET pending = $1 WHERE source = 'paused'`, [h.table === "mako_schedules" ? 1 : true]);
    await h.mako.schedules.pause("paused");
    await dueAt("paused", ago(3_600_000));
    expect(await scheduler.tick()).toEqual([]);
    expect(await h.mako.schedules.get("paused")).toMatchObject({ paused: true, pending: false });
    const resumed = await h.mako.schedules.resume("paused");
    expect(Date.parse(resumed.nextFireAt!)).toBeGreaterThan(Date.now() - 5000);
    expect(await scheduler.tick()).toEqual([]);
    expect(await runsOf("paused")).toEqual([]);
  });

  it("a fire that cannot start a run is kept as the schedule's last error", async () => {
    await h.mako.sources.update("paused", { entities: ["users"] });
    await h.mako.schedules.set("paused", { cron: "0 * * * *", timezone: "UTC" });
    // A destination the source names was removed behind its back (as a stale record would be).
    await h.sql(`UPDATE ${h.runsTable} SET status = 'failed' WHERE status = 'running'`);
    const sources = h.table === "mako_schedules" ? "mako_sources" : "mako.sources";
    await h.sql(`UPDATE ${sources} SET destination = 'vanished' WHERE name = 'paused'`);
    await dueAt("paused", ago(1000));
    const [report] = await scheduler.tick();
    expect(report.outcome).toEqual({ error: `no destination named "vanished" (see: npx mako destinations list)` });
    expect((await h.mako.schedules.get("paused")).lastError).toBe(`no destination named "vanished" (see: npx mako destinations list)`);
    expect(await scheduler.tick()).toEqual([]);
  });

  it("migrates a database from before schedules: runs gain their trigger, the table is created", async () => {
    const isSqlite = h.table === "mako_schedules";
    await h.sql(isSqlite ? `DROP TRIGGER mako_sources_drop_schedule` : `SELECT 1`);
    await h.sql(`DROP TABLE ${h.table}`);
    await h.sql(`ALTER TABLE ${h.runsTable} DROP COLUMN triggered_by`);
    const again = await h.reopen();
    try {
      const runs = await again.runs.list({ source: "tiny" });
      expect(runs.length).toBeGreaterThan(0);
      // Runs from before the column were all started by hand.
      expect(new Set(runs.map((r) => r.trigger))).toEqual(new Set(["manual"]));
      const set = await again.schedules.set("tiny", { cron: "0 * * * *", timezone: "UTC" });
      expect(set.nextFireTimes).toHaveLength(3);
      await again.sources.remove("tiny", { data: "keep" });
      expect(await again.schedules.find("tiny")).toBeNull();
    } finally {
      await again.close();
    }
  });
});
