// Issue 13's rate limits across workers, with what users run: three `mako worker` processes take
// the three entities of one REST source (the generic connector, configured for the vendor fake's
// cursor pages) and keep it busy, against a vendor that enforces the limit. The vendor tolerates
// 200 ms of send-time wobble as its burst, for the reasons given in sharedRateLimit.test.ts, which
// also checks the reservation log slot by slot.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRatedApi, type RatedApi } from "../../../bench/fakes/ratedApi";
import { TestDatabase, sleep, type WorkerProcess } from "./harness";

const ENTITIES = ["contacts", "deals", "tickets"];
const vendorBurst = (rate: number) => 1 + Math.ceil(rate * 0.2);

let db: TestDatabase;
beforeAll(async () => {
  db = new TestDatabase("wlimit");
  await db.create();
}, 60_000);
afterAll(async () => {
  await db?.drop();
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
  const added = await db.mako(["sources", "add", name, "--connector", "rest", "--config-json", JSON.stringify(config), "--settings-json", JSON.stringify({ requestsPerSecond: rate, burst: 1 })]);
  expect(added.code, added.stderr).toBe(0);
}

/**
 * Three workers, one entity each; the run handed to them; `during` runs once the first request
 * of the run arrived; after `seconds` the run is cancelled. The arrivals of that window.
 */
async function busyFor(source: string, api: RatedApi, seconds: number, during?: (first: number) => Promise<void>) {
  const workers: WorkerProcess[] = ENTITIES.map((_, i) => db.worker(`w_${source}_${i}`));
  try {
    await Promise.all(workers.map((w) => w.started()));
    const before = api.arrivals.length; // the connection test of `sources add` came earlier
    const enqueued = await db.mako(["sync", source, "--enqueue"]);
    expect(enqueued.code, enqueued.stderr).toBe(0);
    const runId = enqueued.stdout.trim();
    const first = (await db.until("the run's first request", async () => api.arrivals[before])).at;
    await during?.(first);
    await sleep(Math.max(0, first + seconds * 1000 - Date.now() + 200));
    // Each entity was on a worker of its own.
    const holders = await Promise.all(ENTITIES.map((entity) => db.holder(source, entity)));
    expect(new Set(holders).size, JSON.stringify(holders)).toBe(3);
    expect((await db.mako(["runs", "cancel", runId])).code).toBe(0);
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
        const forced = await db.until("the 429", async () => api.arrivals[before], 5000);
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
