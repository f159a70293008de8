// Exactly the part of pg-boss (pinned at 10.4.2) that Mako uses, through EntityQueue: an upgrade
// that changes any of it fails here. Schema `mako_queue`, a "standard" queue created once even
// by processes starting together, jobs sent inside our transactions (a rollback leaves none),
// fetched one at a time oldest first, completed, failed without retry, cancelled, held back;
// and a "short" queue for webhook apply jobs: one waiting job per singleton key, a delay.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APPLY_QUEUE, ENTITY_QUEUE, EntityQueue, type EntityJob, type EntityJobData } from "../../src/cluster/queue";
import { TestDatabase, sleep } from "./harness";

const db = new TestDatabase("pgboss");
let pool: pg.Pool;
const queues: EntityQueue[] = [];
const errors: Error[] = [];

beforeAll(async () => {
  await db.create();
  pool = new pg.Pool({ connectionString: db.url, max: 8 });
});

afterAll(async () => {
  for (const q of queues) await q.stop(1000).catch(() => {});
  await pool?.end();
  await db.drop();
});

const job = (entity: string): EntityJobData => ({ runId: "run_x", source: "shop", entity, reason: "start" });

async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>, commit: boolean): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query(commit ? "COMMIT" : "ROLLBACK");
    return result;
  } finally {
    client.release();
  }
}

const jobState = async (id: string) => (await db.query<{ state: string }>(`SELECT state FROM mako_queue.job WHERE id = $1`, [id]))[0]?.state;

describe("pg-boss 10.4.2 as Mako uses it", () => {
  it("installs its schema, a standard and a short queue, even when three processes start at once", async () => {
    const opened = await Promise.all([0, 1, 2].map(() => EntityQueue.open(pool, { maintain: false, onError: (e) => errors.push(e) })));
    queues.push(...opened);
    expect(await db.query(`SELECT name, policy FROM mako_queue.queue ORDER BY name`)).toEqual([
      { name: APPLY_QUEUE, policy: "short" },
      { name: ENTITY_QUEUE, policy: "standard" },
    ]);
    const [version] = await db.query<{ version: number }>(`SELECT version FROM mako_queue.version`);
    expect(version.version).toBeGreaterThan(0);
  });

  it("sends inside the caller's transaction: a rollback leaves no job, a commit one with our expiry and no retry", async () => {
    const [queue] = queues;
    const dropped = await inTransaction((c) => queue.send(c, job("rolled_back"), { expireInSeconds: 120 }), false);
    expect(await jobState(dropped)).toBeUndefined();
    const kept = await inTransaction((c) => queue.send(c, job("committed"), { expireInSeconds: 120 }), true);
    const [row] = await db.query(`SELECT state, retry_limit, extract(epoch FROM expire_in)::int AS expire, data FROM mako_queue.job WHERE id = $1`, [kept]);
    expect(row).toEqual({ state: "created", retry_limit: 0, expire: 120, data: job("committed") });
    // Cancelled before any worker saw it: never delivered.
    await inTransaction((c) => queue.cancel(c, kept), true);
    expect(await jobState(kept)).toBe("cancelled");
  });

  it("hands jobs one at a time, oldest first; completes them, fails a throwing one without retry, holds a later one back", async () => {
    const [queue, other] = queues;
    const ids: string[] = [];
    for (const entity of ["a", "b", "c", "boom"]) {
      ids.push(await inTransaction((c) => queue.send(c, job(entity), { expireInSeconds: 60 }), true));
      await sleep(20); // distinct creation times
    }
    const later = await inTransaction((c) => queue.send(c, job("later"), { expireInSeconds: 60, startAfterSeconds: 3 }), true);
    const seen: Array<{ entity: string; at: number; concurrent: number }> = [];
    let running = 0;
    const started = Date.now();
    await other.work(1, async (j: EntityJob) => {
      running++;
      seen.push({ entity: j.data.entity, at: Date.now() - started, concurrent: running });
      await sleep(50);
      running--;
      if (j.data.entity === "boom") throw new Error("boom");
    });
    await db.until("every job handled", async () => seen.length === 5, 20_000);
    expect(seen.map((s) => s.entity)).toEqual(["a", "b", "c", "boom", "later"]);
    expect(seen.every((s) => s.concurrent === 1)).toBe(true);
    expect(seen[4].at).toBeGreaterThan(2500);
    await db.until("states settled", async () => (await jobState(later)) === "completed");
    expect(await Promise.all(ids.map(jobState))).toEqual(["completed", "completed", "completed", "failed"]);
    const [failed] = await db.query(`SELECT output->>'message' AS message, retry_count FROM mako_queue.job WHERE id = $1`, [ids[3]]);
    expect(failed).toEqual({ message: "boom", retry_count: 0 });
    expect(errors).toEqual([]);
  });

  it("apply jobs: one waiting per source/entity (a second send is refused until it runs), after the delay", async () => {
    const [queue, other] = queues;
    expect(await queue.sendApply(pool, { source: "shop", entity: "customers" }, 1)).toBe(true);
    expect(await queue.sendApply(pool, { source: "shop", entity: "customers" }, 1)).toBe(false);
    expect(await queue.sendApply(pool, { source: "shop", entity: "products" }, 1)).toBe(true);
    const seen: { entity: string; at: number }[] = [];
    const started = Date.now();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    await other.workApply(1, async (j) => {
      seen.push({ entity: j.data.entity, at: Date.now() - started });
      if (seen.length === 1) await held;
    });
    await db.until("the first apply job running", async () => seen.length >= 1, 10_000);
    expect(seen[0].at).toBeGreaterThan(700);
    // While it runs, a new one may wait beside it.
    const running = seen[0].entity;
    expect(await queue.sendApply(pool, { source: "shop", entity: running }, 0)).toBe(true);
    release();
    await db.until("every apply job handled", async () => seen.length === 3, 10_000);
    expect(seen.map((s) => s.entity).sort()).toEqual([running, "customers", "products"].sort());
    expect(errors).toEqual([]);
  });
});
