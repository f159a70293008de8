// Issue 13's "rate limits held across workers", with real processes and a real PostgreSQL:
// processes syncing one source (or one rateLimitGroup) against a vendor fake that enforces the
// limit keep to it together, and a Retry-After seen by one holds them all.
//
// The vendor judges arrivals, which land later than the slot they were sent in by however long
// the processes' scheduling delays them (a starved event loop on a busy machine), and the fake
// itself stalls with the machine: its burst is the allowance for that wobble. The burst
// of 3 at 20 req/s allows 100 ms; on this 2-core machine under the other suites' load the fake
// alone stalls up to ~90 ms and sends land up to ~90 ms late (p99), and a burst of 3 failed about
// one run in four, always with exact slots. So the vendor tolerates 200 ms at both rates (a
// burst of 5 at 20 req/s, 21 at 100 req/s). What the limiter controls is checked exactly, from
// the reservation log: slots never closer than 1/rate, and no request before its slot. The last
// tests run the same against real `mako worker` processes.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startRatedApi, type Arrival, type RatedApi } from "../../../bench/fakes/ratedApi";
import { freshDatabase, type FreshDatabase } from "./freshDatabase";
import { TestDatabase, type WorkerProcess } from "./harness";
import { startSyncProcesses, type ProcessOutcome, type SyncProcesses, type SyncProcessSpec } from "./syncProcesses";

let db: FreshDatabase;
const apis: RatedApi[] = [];
const running: SyncProcesses[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENTITIES = ["contacts", "deals", "tickets"];
/** Send-time wobble the vendor tolerates beyond the limit, as a burst: 200 ms worth. */
const vendorBurst = (rate: number) => 1 + Math.ceil(rate * 0.2);

beforeAll(async () => {
  db = await freshDatabase("mako_shared_limit");
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
  await Promise.all(apis.splice(0).map((a) => a.close()));
});
afterAll(async () => {
  await db?.drop();
});

async function vendor(requestsPerSecond: number, burst: number): Promise<RatedApi> {
  const api = await startRatedApi({ requestsPerSecond, burst, collections: ENTITIES });
  apis.push(api);
  return api;
}

interface Entry {
  source: string;
  entity: string;
  settings: SyncProcessSpec["settings"];
}

async function processes(api: RatedApi, entries: Entry[]): Promise<SyncProcesses> {
  const config = { base_url: api.url, token: api.token };
  const procs = await startSyncProcesses(entries.map((e) => ({ databaseUrl: db.url, config, ...e })));
  running.push(procs);
  return procs;
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!condition()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Starts the processes, lets them run until `seconds` after the vendor saw the first request
 * (`during` runs meanwhile), stops them; the arrivals in that window and how each process ended.
 */
async function runFor(api: RatedApi, procs: SyncProcesses, seconds: number, during?: (first: number) => Promise<void>) {
  procs.go();
  await waitFor(() => api.arrivals.length > 0, 30_000, "the first request");
  const first = api.arrivals[0].at;
  await during?.(first);
  await sleep(first + seconds * 1000 - Date.now() + 200);
  const outcomes = await procs.stop();
  running.splice(running.indexOf(procs), 1);
  for (const o of outcomes) {
    expect(o.code, o.stderr).toBe(0);
    expect(o.status, o.stderr).toBe("cancelled");
  }
  return { arrivals: api.arrivals.filter((a) => a.at <= first + seconds * 1000), outcomes };
}

/**
 * The reservation log of every process together: slots never closer than 1/rate (burst 1),
 * and no request reached the vendor before a slot was due for it.
 */
function expectExactSlots(outcomes: ProcessOutcome[], arrivals: Arrival[], rate: number): void {
  const slots = outcomes.flatMap((o) => o.slotStarts).sort((a, b) => a - b);
  expect(slots.length).toBeGreaterThanOrEqual(arrivals.length);
  let closest = Infinity;
  for (let i = 1; i < slots.length; i++) closest = Math.min(closest, slots[i] - slots[i - 1]);
  // Timestamps have microseconds: allow their rounding.
  expect(closest).toBeGreaterThanOrEqual(1000 / rate - 0.01);
  let due = 0;
  arrivals.forEach((a, i) => {
    while (due < slots.length && slots[due] <= a.at + 1) due++;
    expect(due, `arrival ${i} at ${a.at}`).toBeGreaterThanOrEqual(i + 1);
  });
}

const perCollection = (arrivals: Arrival[]) => Object.fromEntries(ENTITIES.map((c) => [c, arrivals.filter((a) => a.collection === c).length]));

describe("one source synced by three processes", () => {
  for (const rate of [20, 100]) {
    const burst = vendorBurst(rate);
    it(
      `at ${rate} req/s (burst 1), against a vendor enforcing ${rate} req/s (burst ${burst}): no 429, at most ${rate} × 30 + 3 requests in 30 s`,
      { timeout: 120_000 },
      async () => {
        const api = await vendor(rate, burst);
        const settings = { requestsPerSecond: rate, burst: 1, batchSize: 10 };
        const procs = await processes(api, ENTITIES.map((entity) => ({ source: `shop_${rate}`, entity, settings })));
        const { arrivals, outcomes } = await runFor(api, procs, 30);
        expect(api.stats.rateLimited).toBe(0);
        expect(arrivals.length).toBeLessThanOrEqual(rate * 30 + 3);
        // Kept busy: together they used most of the budget (less on a starved machine), each a fair part.
        expect(arrivals.length).toBeGreaterThanOrEqual(rate * 30 * 0.5);
        for (const [collection, n] of Object.entries(perCollection(arrivals))) expect(n, collection).toBeGreaterThan(rate * 30 * 0.12);
        expectExactSlots(outcomes, arrivals, rate);
      },
    );
  }

  // At 5 req/s slots are 200 ms apart: far more than a pause takes to reach the other
  // processes, so no request of theirs is already on its way when the vendor answers the 429.
  it("a 429 with Retry-After: 3 seen by one process: no request from any process reaches the vendor for 3 s", { timeout: 120_000 }, async () => {
    const api = await vendor(5, vendorBurst(5));
    const settings = { requestsPerSecond: 5, burst: 1, batchSize: 10 };
    const procs = await processes(api, ENTITIES.map((entity) => ({ source: "shop_pause", entity, settings })));
    let forcedAt = 0;
    const { arrivals } = await runFor(api, procs, 10, async (first) => {
      await sleep(first + 2000 - Date.now());
      const before = api.arrivals.length;
      api.rateLimitNext(3);
      await waitFor(() => api.arrivals.length > before, 5000, "the 429");
      forcedAt = api.arrivals[before].at;
      expect(api.arrivals[before].status).toBe(429);
    });
    expect(api.stats.rateLimited).toBe(1);
    expect(api.stats.duringPenalty).toBe(0);
    const after = arrivals.filter((a) => a.at > forcedAt);
    expect(after[0].at - forcedAt).toBeGreaterThanOrEqual(3000);
    // Then every process resumed, paced again (at half the pace: a 429 slows the source down).
    const resumed = after.filter((a) => a.at <= forcedAt + 7000);
    for (const collection of ENTITIES) expect(resumed.some((a) => a.collection === collection), collection).toBe(true);
    expect(resumed.length).toBeLessThanOrEqual(4 * 5 + 3);
  });
});

describe("rateLimitGroup", () => {
  it("two sources of one group, synced by two processes, share one budget", { timeout: 120_000 }, async () => {
    const api = await vendor(20, vendorBurst(20));
    const settings = { requestsPerSecond: 20, burst: 1, batchSize: 10, rateLimitGroup: "acme-account" };
    const procs = await processes(api, [
      { source: "shop_eu", entity: "contacts", settings },
      { source: "shop_us", entity: "deals", settings },
    ]);
    const { arrivals, outcomes } = await runFor(api, procs, 10);
    expect(api.stats.rateLimited).toBe(0);
    expect(arrivals.length).toBeLessThanOrEqual(20 * 10 + 3);
    expect(arrivals.length).toBeGreaterThanOrEqual(20 * 10 * 0.75);
    const counts = perCollection(arrivals);
    expect(counts.contacts).toBeGreaterThan(20 * 10 * 0.25);
    expect(counts.deals).toBeGreaterThan(20 * 10 * 0.25);
    expectExactSlots(outcomes, arrivals, 20);
  });
});

// The same with what users run: three `mako worker` processes take the three entities of one
// REST source (the generic connector, configured for the fake's cursor pages) and keep it busy.
// In this file, so that these timing-sensitive tests never run beside the ones above.
let cluster: TestDatabase;
beforeAll(async () => {
  cluster = new TestDatabase("wlimit");
  await cluster.create();
}, 60_000);
afterAll(async () => {
  await cluster?.drop();
});

/** A REST source on the fake, paced at `rate` (burst 1); its three entities never run out. */
async function addSource(name: string, api: RatedApi, rate: number): Promise<void> {
  const config = {
    base_url: `${api.url}/v1`,
    auth: { type: "bearer", token: api.token },
    records_path: "data",
    paginator: { type: "cursor", cursor_path: "next_cursor", cursor_param: "cursor", size_param: "limit", page_size: 10, has_more_path: "has_more" },
    entities: ENTITIES.map((entity) => ({ name: entity })),
  };
  const added = await cluster.mako(["sources", "add", name, "--connector", "rest", "--config-json", JSON.stringify(config), "--settings-json", JSON.stringify({ requestsPerSecond: rate, burst: 1 })]);
  expect(added.code, added.stderr).toBe(0);
}

/**
 * Three workers, one entity each; the run handed to them; `during` runs once the first request
 * of the run arrived; after `seconds` the run is cancelled. The arrivals of that window.
 */
async function busyFor(source: string, api: RatedApi, seconds: number, during?: (first: number) => Promise<void>) {
  const workers: WorkerProcess[] = ENTITIES.map((_, i) => cluster.worker(`w_${source}_${i}`));
  try {
    await Promise.all(workers.map((w) => w.started()));
    const before = api.arrivals.length; // the connection test of `sources add` came earlier
    const enqueued = await cluster.mako(["sync", source, "--enqueue"]);
    expect(enqueued.code, enqueued.stderr).toBe(0);
    const runId = enqueued.stdout.trim();
    const first = (await cluster.until("the run's first request", async () => api.arrivals[before])).at;
    await during?.(first);
    await sleep(Math.max(0, first + seconds * 1000 - Date.now() + 200));
    // Each entity was on a worker of its own.
    const holders = await Promise.all(ENTITIES.map((entity) => cluster.holder(source, entity)));
    expect(new Set(holders).size, JSON.stringify(holders)).toBe(3);
    expect((await cluster.mako(["runs", "cancel", runId])).code).toBe(0);
    return api.arrivals.slice(before).filter((a) => a.at <= first + seconds * 1000);
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
  }
}

describe("one source kept busy by three mako worker processes", () => {
  for (const rate of [20, 100]) {
    const burst = vendorBurst(rate);
    it(`at ${rate} req/s (burst 1), against a vendor enforcing ${rate} req/s (burst ${burst}): no 429, at most ${rate} × 30 + 3 requests in 30 s`, { timeout: 120_000 }, async () => {
      const api = await startRatedApi({ requestsPerSecond: rate, burst, collections: ENTITIES });
      try {
        await addSource(`rated_${rate}`, api, rate);
        const arrivals = await busyFor(`rated_${rate}`, api, 30);
        expect(api.stats.rateLimited).toBe(0);
        expect(arrivals.length).toBeLessThanOrEqual(rate * 30 + 3);
        // Kept busy: together they used most of the budget, each entity a fair part of it.
        expect(arrivals.length).toBeGreaterThanOrEqual(rate * 30 * 0.5);
        for (const entity of ENTITIES) expect(arrivals.filter((a) => a.collection === entity).length, entity).toBeGreaterThan(rate * 30 * 0.1);
      } finally {
        await api.close();
      }
    });
  }

  it("a 429 with Retry-After: 3 seen by one worker: no request from any worker reaches the vendor for 3 s", { timeout: 120_000 }, async () => {
    const api = await startRatedApi({ requestsPerSecond: 5, burst: vendorBurst(5), collections: ENTITIES });
    try {
      await addSource("rated_pause", api, 5);
      let forcedAt = 0;
      const arrivals = await busyFor("rated_pause", api, 10, async (first) => {
        await sleep(Math.max(0, first + 2000 - Date.now()));
        const before = api.arrivals.length;
        api.rateLimitNext(3);
        const forced = await cluster.until("the 429", async () => api.arrivals[before], 5000);
        expect(forced.status).toBe(429);
        forcedAt = forced.at;
      });
      expect(api.stats.rateLimited).toBe(1);
      expect(api.stats.duringPenalty).toBe(0);
      const after = arrivals.filter((a) => a.at > forcedAt);
      expect(after[0].at - forcedAt).toBeGreaterThanOrEqual(3000);
      // Then every worker resumed.
      for (const entity of ENTITIES) expect(after.some((a) => a.collection === entity), entity).toBe(true);
    } finally {
      await api.close();
    }
  });
});
