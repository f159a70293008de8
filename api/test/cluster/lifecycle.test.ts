// A run's life in the workers, with real `mako worker` processes on real PostgreSQL: a lone
// worker killed (the run reported failed by any process, the next sync resumes), cancel and the
// live view through the HTTP API of another process, `--enqueue --wait` exit codes, time
// slices, and SQLite mode's refusals.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mako } from "../../src/Mako";
import { startServer } from "../../src/server";
import { LEASE_SECONDS, TestDatabase, newHome, repo } from "./harness";

const db = new TestDatabase("lifecycle");
const CONFIG = { count: 8000, seed: 5, page_delay_ms: 30 };
const SETTINGS = { batchSize: 100, maxIterations: 2 };

beforeAll(async () => {
  await db.create();
  for (const [name, config] of [
    ["lone", CONFIG],
    ["cancelled", CONFIG],
    ["sliced", CONFIG],
    ["quick", { count: 300, seed: 5 }],
    ["ref", { count: CONFIG.count, seed: CONFIG.seed }],
  ] as const) {
    const added = await db.mako(["sources", "add", name, "--connector", "sample", "--config-json", JSON.stringify(config), "--settings-json", JSON.stringify(SETTINGS)]);
    expect(added.code, added.stderr).toBe(0);
  }
  // A source whose API cannot be reached: its run fails.
  const down = { base_url: "http://127.0.0.1:1", entities: [{ name: "items" }] };
  const added = await db.mako(["sources", "add", "down", "--connector", "rest", "--config-json", JSON.stringify(down), "--no-test"]);
  expect(added.code, added.stderr).toBe(0);
  expect((await db.mako(["sync", "ref", "--entity", "users"])).code).toBe(0);
});

afterAll(() => db.drop());

const runStatus = async (runId: string) => (await db.query<{ status: string; error: string | null }>(`SELECT status, error FROM mako.runs WHERE id = $1`, [runId]))[0];

describe("runs handed to the workers", () => {
  it("a lone worker SIGKILLed: once its lease expires any process reports the run failed, and the next sync resumes from the checkpoint", async () => {
    const enqueued = await db.mako(["sync", "lone", "--enqueue", "--entity", "users"]);
    expect(enqueued.code, enqueued.stderr).toBe(0);
    const runId = enqueued.stdout.trim();
    const w = db.worker("w_lone");
    await w.started();
    await db.until("a few commits", async () => (await db.committed("lone", "users")) >= 1000);
    w.kill("SIGKILL");
    const killedAt = Date.now();
    // Still running while the lease lasts: nobody can tell a dead worker from a slow one yet.
    expect((await runStatus(runId)).status).toBe("running");

    const failed = await db.until("the run reported failed", async () => {
      const runs = await db.mako(["runs", "lone"]);
      return new RegExp(`${runId}\\s+lone\\s+failed`).test(runs.stdout) ? runs.stdout : undefined;
    });
    expect(Date.now() - killedAt).toBeGreaterThan((LEASE_SECONDS - 1) * 1000);
    expect(failed).toContain(`the worker running "users" stopped and no live worker could take it over; the next sync resumes from the last checkpoint`);
    expect(failed).toMatch(/users\s+interrupted/);

    const committed = await db.committed("lone", "users");
    const next = await db.mako(["sync", "lone", "--entity", "users"]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/^users: [\d,]+ records .*\[resumed/m);
    expect(Number(next.stdout.match(/^users: ([\d,]+) records/m)![1].replace(/,/g, ""))).toBe(CONFIG.count - committed);
    expect(await db.fingerprint("lone", "users")).toEqual(await db.fingerprint("ref", "users"));
  }, 90_000);

  it("cancel through the API of another process stops the entity on its worker within a flush, checkpoint kept; the live view shows its progress", async () => {
    const w = db.worker("w_cancel");
    await w.started();
    const mako = await Mako.open({ home: newHome(), databaseUrl: db.url });
    const server = await startServer({ mako, port: 0, uiDir: false, log: () => {} });
    try {
      const enqueued = await db.mako(["sync", "cancelled", "--enqueue", "--entity", "users"]);
      const runId = enqueued.stdout.trim();
      // The live view of a run executing in a worker: read from the store, entity by entity.
      const res = await fetch(`${server.url}/api/runs/${runId}/events`);
      const events = sseEvents(res);
      const progress = await events.until((e) => e.event === "progress" && e.data.entity === "users" && e.data.status === "running" && e.data.records > 0);
      expect(progress.data.committed).toBeGreaterThan(0);

      const asked = Date.now();
      const cancel = await fetch(`${server.url}/api/runs/${runId}/cancel`, { method: "POST" });
      expect(cancel.status).toBe(202);
      const ended = await db.until("the run cancelled", async () => ((await runStatus(runId)).status === "cancelled" ? Date.now() : undefined));
      // A flush is half a second, a quiet one a second; then the chunk in hand commits.
      expect(ended - asked).toBeLessThan(3000);
      const end = await events.until((e) => e.event === "end");
      expect(end.data).toMatchObject({ status: "cancelled", entities: [{ entity: "users", status: "cancelled" }] });

      // The checkpoint is kept: the next sync resumes, and nothing was lost.
      const [state] = await db.query<{ checkpoint: string }>(`SELECT checkpoint FROM _mako.state WHERE namespace = 'cancelled' AND entity = 'users'`);
      expect(JSON.parse(state.checkpoint).fetchState.hasMore).toBe(true);
      expect(w.output).toMatch(/cancelled\.users: cancelled/);
      const next = await db.mako(["sync", "cancelled", "--entity", "users"]);
      expect(next.stdout).toMatch(/resumed/);
      expect(await db.fingerprint("cancelled", "users")).toEqual(await db.fingerprint("ref", "users"));
    } finally {
      await server.close();
      await mako.close();
      w.kill("SIGTERM");
      await w.exited;
    }
  }, 90_000);

  it("--enqueue --wait exits 0 only when the run succeeded; time slices continue as new jobs and end exact", async () => {
    const w = db.worker("w_slices", { env: { MAKO_SLICE_SECONDS: "0.7" } });
    await w.started();
    try {
      const ok = await db.mako(["sync", "quick", "--enqueue", "--wait"]);
      expect(ok.code, ok.stderr).toBe(0);
      const [runId, ...summary] = ok.stdout.trim().split("\n");
      expect(runId).toMatch(/^run_/);
      expect(summary.map((l) => l.split(":")[0])).toEqual(["users", "products", "purchases"]);

      const failed = await db.mako(["sync", "down", "--enqueue", "--wait"]);
      expect(failed.code).toBe(1);
      expect(failed.stderr).toMatch(/^error: sync of "down" failed \(run run_\S+\): .*127\.0\.0\.1:1/m);

      // About 2.4 s of fetching in slices of 0.7 s: several jobs, one attempt, the result exact.
      const sliced = await db.mako(["sync", "sliced", "--enqueue", "--wait", "--entity", "users"]);
      expect(sliced.code, sliced.stderr).toBe(0);
      const e = await db.runEntity(sliced.stdout.split("\n")[0], "users");
      expect(e.slices).toBeGreaterThanOrEqual(3);
      expect(e).toMatchObject({ status: "succeeded", attempts: 1, result_json: { records: CONFIG.count } });
      expect(w.output).toMatch(/sliced\.users: slice over after \d+ records so far; handed to the next job/);
      expect(await db.fingerprint("sliced", "users")).toEqual(await db.fingerprint("ref", "users"));

      // A cancelled run is not a success either.
      const waiting = db.mako(["sync", "sliced", "--enqueue", "--wait", "--full-refresh", "--entity", "users"]);
      const running = await db.until("the full refresh running", async () => (await db.query<{ id: string }>(`SELECT id FROM mako.runs WHERE source = 'sliced' AND status = 'running'`))[0]);
      expect((await db.mako(["runs", "cancel", running.id, "--wait", "0"])).code).toBe(0);
      const cancelled = await waiting;
      expect(cancelled.code).toBe(1);
      expect(cancelled.stderr).toMatch(/sync of "sliced" cancelled/);
    } finally {
      w.kill("SIGTERM");
      expect(await w.exited).toBe(0);
    }
    expect(w.output).toMatch(/stopped$/m);
  }, 120_000);

  it("an entity whose job ended before a worker took it (the take failed) goes back in the queue", async () => {
    const enqueued = await db.mako(["sync", "quick", "--enqueue", "--entity", "products"]);
    const runId = enqueued.stdout.trim();
    // As a worker whose take failed leaves it: the job failed, the entity still waiting for it.
    await db.query(`UPDATE mako_queue.job SET state = 'failed', completed_on = now() WHERE id = (SELECT job_id FROM mako.run_entities WHERE run_id = $1)`, [runId]);
    const w = db.worker("w_orphan");
    await w.started();
    try {
      await db.until("the run's end", async () => (await runStatus(runId)).status !== "running");
      expect(await runStatus(runId)).toMatchObject({ status: "succeeded" });
      expect(w.output).toMatch(/quick\.products: its job ended, or was lost, before taking it; back in the queue/);
    } finally {
      w.kill("SIGTERM");
      await w.exited;
    }
  }, 60_000);

  it("an entity whose job was handed out but never taken (the fetch's answer lost in a restart) goes back in the queue", async () => {
    const enqueued = await db.mako(["sync", "quick", "--enqueue", "--entity", "products"]);
    const runId = enqueued.stdout.trim();
    // As pg-boss leaves a job whose fetch committed while its worker lost the connection: active,
    // for longer than a lease, the entity still waiting for it. pg-boss would hold it until its expiry.
    await db.query(`UPDATE mako_queue.job SET state = 'active', started_on = now() - interval '1 minute' WHERE id = (SELECT job_id FROM mako.run_entities WHERE run_id = $1)`, [runId]);
    const w = db.worker("w_lost_fetch");
    await w.started();
    try {
      await db.until("the run's end", async () => (await runStatus(runId)).status !== "running");
      expect(await runStatus(runId)).toMatchObject({ status: "succeeded" });
      expect(w.output).toMatch(/quick\.products: its job ended, or was lost, before taking it; back in the queue/);
      const [old] = await db.query<{ state: string }>(`SELECT j.state FROM mako_queue.job AS j WHERE j.data->>'runId' = $1 ORDER BY j.created_on LIMIT 1`, [runId]);
      expect(old.state).toBe("cancelled");
    } finally {
      w.kill("SIGTERM");
      await w.exited;
    }
  }, 60_000);

  it("a due schedule is handed to the workers by a worker's scheduler, and runs there", async () => {
    const set = await db.mako(["schedule", "set", "quick", "0 3 * * *", "--tz", "UTC"]);
    expect(set.code, set.stderr).toBe(0);
    const w = db.worker("w_schedule", { env: { MAKO_SCHEDULER_TICK_MS: "200" } });
    await w.started();
    // Due a second ago: the next tick of the worker's scheduler claims the slot and enqueues it.
    await db.query(`UPDATE mako.schedules SET next_fire_at = now() - interval '1 second' WHERE source = 'quick'`);
    const run = await db.until("the scheduled run done", async () => {
      const [row] = await db.query<{ id: string; status: string; executor: string; triggered_by: string }>(
        `SELECT id, status, executor, triggered_by FROM mako.runs WHERE source = 'quick' AND triggered_by = 'schedule' ORDER BY started_at DESC LIMIT 1`,
      );
      return row && row.status !== "running" ? row : undefined;
    });
    expect(run).toMatchObject({ status: "succeeded", executor: "workers", triggered_by: "schedule" });
    const [schedule] = await db.query<{ next_fire_at: Date }>(`SELECT next_fire_at FROM mako.schedules WHERE source = 'quick'`);
    expect(schedule.next_fire_at.getTime()).toBeGreaterThan(Date.now());
    expect(await db.mako(["schedule", "remove", "quick"])).toMatchObject({ code: 0 });
  }, 60_000);

  it("in SQLite mode, mako worker and --enqueue refuse in one line, touching nothing", async () => {
    const home = newHome();
    const run = (args: string[]) =>
      new Promise<{ code: number; stderr: string }>((ok) => {
        const env: NodeJS.ProcessEnv = { ...process.env, MAKO_HOME: home };
        delete env.DATABASE_URL;
        execFile(process.execPath, [join(repo, "api/bin/mako.js"), ...args], { cwd: repo, env }, (err, _out, stderr) =>
          ok({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stderr }),
        );
      });
    for (const args of [["worker"], ["sync", "shop", "--enqueue"]]) {
      const r = await run(args);
      expect(r.code).toBe(1);
      expect(r.stderr.trimEnd().split("\n")).toEqual([
        `error: ${args[0] === "worker" ? "mako worker" : "mako sync --enqueue"} needs DATABASE_URL=postgres://…: workers share runs, leases and the job queue through PostgreSQL, not the SQLite file $MAKO_HOME/mako.db`,
      ]);
    }
    const wait = await run(["sync", "shop", "--wait"]);
    expect(wait.stderr.trim()).toBe("error: --wait follows a run handed to the workers: give --enqueue too");
    const bad = await db.mako(["worker", "--concurrency", "0"]);
    expect(bad.stderr.trim()).toBe(`error: --concurrency must be a whole number from 1 to 64 (got "0")`);
  });
});

/** Server-Sent Events as they arrive: `until` resolves with the first event that matches. */
function sseEvents(res: Response) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const queue: Array<{ event: string; data: any }> = [];
  return {
    async until(match: (e: { event: string; data: any }) => boolean) {
      for (;;) {
        for (let e = queue.shift(); e; e = queue.shift()) if (match(e)) return e;
        const { value, done } = await reader.read();
        if (done) throw new Error("the event stream ended first");
        buffer += decoder.decode(value, { stream: true });
        const blocks = buffer.split("\n\n");
        buffer = blocks.pop()!;
        for (const block of blocks) {
          const event = block.match(/^event: ?(.*)$/m)?.[1];
          const data = block.match(/^data: ?(.*)$/m)?.[1];
          if (event && data) queue.push({ event, data: JSON.parse(data) });
        }
      }
    },
  };
}
