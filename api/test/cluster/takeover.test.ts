// Exactly once across workers, with real `mako worker` processes on real PostgreSQL: workers
// killed mid-fetch and mid-commit are taken over from the last checkpoint; a worker paused past
// its lease wakes to find its commits refused by the fence.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LEASE_SECONDS, TestDatabase, type WorkerProcess, sleep } from "./harness";

const db = new TestDatabase("takeover");
// 250 pages of 100 records, 30 ms each: about 8 s of fetching per entity, two pages per chunk,
// long enough for the kills to land mid-entity on a loaded machine.
const CONFIG = { count: 25_000, seed: 11, page_delay_ms: 30 };
const SETTINGS = { batchSize: 100, maxIterations: 2 };
const ENTITIES = ["users", "purchases"] as const;

beforeAll(async () => {
  await db.create();
  for (const [name, config] of [
    ["big", CONFIG],
    ["paused", CONFIG],
    ["ref", { count: CONFIG.count, seed: CONFIG.seed }],
  ] as const) {
    const added = await db.mako(["sources", "add", name, "--connector", "sample", "--config-json", JSON.stringify(config), "--settings-json", JSON.stringify(SETTINGS)]);
    expect(added.code, added.stderr).toBe(0);
  }
  // The uninterrupted run every interrupted one must equal: one plain `mako sync`.
  const ref = await db.mako(["sync", "ref"]);
  expect(ref.code, ref.stderr).toBe(0);
});

afterAll(() => db.drop());

async function enqueue(source: string, entities: readonly string[]): Promise<string> {
  const r = await db.mako(["sync", source, "--enqueue", ...entities.flatMap((e) => ["--entity", e])]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

async function expectEqualsReference(source: string, entities: readonly string[]) {
  for (const entity of entities) {
    const [got, want] = [await db.fingerprint(source, entity), await db.fingerprint("ref", entity)];
    expect(got, `${source}.${entity} against the uninterrupted run`).toEqual(want);
    expect(got.keys).toBe(got.rows);
  }
}

/** The run's entity once a new worker took it (its second attempt); when that happened. */
async function takenOver(runId: string, entity: string, from: string) {
  const row = await db.until(`a takeover of ${entity}`, async () => {
    const e = await db.runEntity(runId, entity);
    return e?.status === "running" && e.attempts === 2 && e.worker !== from ? e : undefined;
  });
  return { row, at: Date.now() };
}

describe("mako worker", () => {
  it("three workers; one SIGKILLed mid-fetch, one mid-commit: taken over in under two leases, the destination equals an uninterrupted run", async () => {
    // One entity each for the first two workers (one slot each); the third, started once both
    // are taken, with two slots, is there to take over.
    const [a, b] = [db.worker("w_a"), db.worker("w_b")];
    await Promise.all([a.started(), b.started()]);
    const runId = await enqueue("big", ENTITIES);
    await db.until("both entities taken", async () => (await db.holder("big", "users")) && (await db.holder("big", "purchases")));
    const c = db.worker("w_c", { concurrency: 2 });
    await c.started();
    const entityOf = async (w: WorkerProcess) => ((await db.holder("big", "users")) === w.id ? "users" : "purchases");
    const [fetching, committing] = [await entityOf(a), await entityOf(b)];
    expect(fetching).not.toBe(committing);

    // a: killed mid-fetch, a moment after one of its commits.
    const before = await db.committed("big", fetching);
    await db.until(`a commit of ${fetching}`, async () => (await db.committed("big", fetching)) > before);
    await sleep(15 + Math.random() * 40);
    a.kill("SIGKILL");
    const aKilledAt = Date.now();

    // b: its next commit waits on the state row this test holds, and is killed there.
    const blocker = new pg.Client(db.url);
    await blocker.connect();
    try {
      await blocker.query("BEGIN");
      await blocker.query(`SELECT 1 FROM _mako.state WHERE namespace = 'big' AND entity = $1 FOR UPDATE`, [committing]);
      await db.until("b's commit blocked on the state row", async () => {
        const rows = await db.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = 'w_b' AND wait_event_type = 'Lock' AND query ILIKE '%_mako.state%'`,
        );
        return rows.length > 0;
      });
      b.kill("SIGKILL");
    } finally {
      await blocker.query("ROLLBACK");
      await blocker.end();
    }
    const bKilledAt = Date.now();

    const [aTaken, bTaken] = await Promise.all([takenOver(runId, fetching, a.id), takenOver(runId, committing, b.id)]);
    expect(aTaken.at - aKilledAt, "takeover of the entity killed mid-fetch (ms)").toBeLessThan(2 * LEASE_SECONDS * 1000);
    expect(bTaken.at - bKilledAt, "takeover of the entity killed mid-commit (ms)").toBeLessThan(2 * LEASE_SECONDS * 1000);

    const run = await db.until("the run's end", async () => {
      const [r] = await db.query<{ status: string }>(`SELECT status FROM mako.runs WHERE id = $1`, [runId]);
      return r.status !== "running" ? r : undefined;
    }, 60_000);
    expect(run.status).toBe("succeeded");
    await expectEqualsReference("big", ENTITIES);

    // Each entity: two attempts, on the killed worker and on the one that took over.
    for (const [entity, killed] of [[fetching, a], [committing, b]] as const) {
      const e = await db.runEntity(runId, entity);
      expect(e).toMatchObject({ status: "succeeded", attempts: 2 });
      expect(e.workers).toEqual([killed.id, c.id]);
    }
    const runs = await db.mako(["runs", "big"]);
    expect(runs.stdout).toContain(`(2 attempts: ${a.id}, ${c.id})`);
    expect(runs.stdout).toContain(`(2 attempts: ${b.id}, ${c.id})`);
    expect(c.output).toMatch(/its worker stopped renewing the lease; back in the queue/);
    c.kill("SIGTERM");
    expect(await c.exited).toBe(0);
  }, 120_000);

  it("a worker SIGSTOPped past its lease and SIGCONTed after a takeover writes nothing more and logs that its lease was lost", async () => {
    const d = db.worker("w_d");
    await d.started();
    const runId = await enqueue("paused", ["users"]);
    await db.until("d holds users", async () => (await db.holder("paused", "users")) === d.id);
    await db.until("the users table", async () => (await db.committed("paused", "users")) > 0);
    // Every statement that writes the table, by which worker's connection, kept only if it commits.
    await db.query(`
      CREATE TABLE public.writes (app text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
      CREATE FUNCTION public.note_write() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO public.writes (app) VALUES (current_setting('application_name')); RETURN NULL; END $$;
      CREATE TRIGGER note_write AFTER INSERT OR UPDATE ON paused.users FOR EACH STATEMENT EXECUTE FUNCTION public.note_write();`);
    await db.until("a commit by d noted", async () => (await db.query(`SELECT 1 FROM public.writes WHERE app = 'w_d'`)).length > 0);

    // Paused while fetching: not inside a transaction, which would hold the entity's rows locked.
    for (;;) {
      d.kill("SIGSTOP");
      await sleep(100);
      const open = await db.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'w_d' AND state LIKE 'idle in transaction%'`);
      if (open.length === 0) break;
      d.kill("SIGCONT");
      await sleep(Math.random() * 50);
    }
    const e = db.worker("w_e");
    await e.started();
    await takenOver(runId, "users", d.id);
    const takenAt = (await db.query<{ now: Date }>(`SELECT now()`))[0].now;
    await db.until("a commit by the new holder", async () => (await db.query(`SELECT 1 FROM public.writes WHERE app = 'w_e'`)).length > 0);
    d.kill("SIGCONT");

    await db.until("d saying it lost the lease", async () => /lease lost/.test(d.output), 30_000);
    await db.until("the run's end", async () => {
      const [r] = await db.query<{ status: string }>(`SELECT status FROM mako.runs WHERE id = $1`, [runId]);
      return r.status === "succeeded";
    }, 60_000);
    // d wrote nothing once e had the entity; a commit it tried was refused by the fence.
    expect(await db.query(`SELECT at FROM public.writes WHERE app = 'w_d' AND at > $1`, [takenAt])).toEqual([]);
    expect(d.output).toMatch(/lease lost: (paused\.users was taken over by another worker \(fence 2; this writer's is 1\): this writer's commit was refused and rolled back|another worker may take the entity over)/);
    await expectEqualsReference("paused", ["users"]);
    expect(await db.runEntity(runId, "users")).toMatchObject({ status: "succeeded", attempts: 2, workers: [d.id, e.id] });
    for (const w of [d, e]) w.kill("SIGTERM");
    expect(await d.exited).toBe(0);
  }, 120_000);
});
