// The shared rate limit's backend against a real PostgreSQL: the GCRA reservation's math,
// pauses, slow-downs, quota clamps, refusals, pause notifications between processes (two
// backends stand for two processes), an unreachable server, and "no limit, no SQL".
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startFaultyApi, type FaultyApi } from "../../../bench/fakes/faultyApi";
import { PostgresRateLimits } from "../../src/cluster/PostgresRateLimits";
import type { PostgresSlotSource } from "../../src/cluster/PostgresSlotSource";
import { useSharedRateLimits, type SharedRateLimits } from "../../src/cluster/sharedRateLimits";
import { BaseConnector } from "../../src/connectors/base/BaseConnector";
import {
  HttpError,
  RateLimitBackendError,
  RateLimiter,
  sharedRateLimiter,
  type HttpClient,
} from "../../src/connectors/base/http";
import { Mako } from "../../src/Mako";
import { freshDatabase, type FreshDatabase } from "./freshDatabase";

let db: FreshDatabase;
const backends: PostgresRateLimits[] = [];
const registrations: SharedRateLimits[] = [];
const apis: FaultyApi[] = [];
let keySeq = 0;
const newKey = () => `test:${process.pid}:${++keySeq}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  db = await freshDatabase("mako_limits");
});
afterEach(async () => {
  await Promise.all(registrations.splice(0).map((r) => r.close()));
  await Promise.all(apis.splice(0).map((a) => a.close()));
});
afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  await db?.drop();
});

function backend(url = db.url): PostgresRateLimits {
  const b = new PostgresRateLimits(url);
  backends.push(b);
  return b;
}

function source(b: PostgresRateLimits, requestsPerSecond: number, burst: number, key = newKey()): PostgresSlotSource {
  const s = b.slotSource(key);
  s.setPace({ requestsPerSecond, burst, minSpacingMs: 0 });
  return s;
}

/**
 * Reserves `n` slots back to back and checks each wait against the expected start (ms after
 * the first statement's database time): real time passes between statements, so a wait may be
 * shorter by at most the time elapsed since the first call, never longer (+1 ms of rounding).
 */
async function expectStarts(s: PostgresSlotSource, starts: number[]): Promise<number[]> {
  const t0 = performance.now();
  const waits: number[] = [];
  for (const start of starts) {
    const grant = await s.reserve(Infinity);
    const elapsed = performance.now() - t0;
    expect(grant.held).toBe(true);
    expect(grant.waitMs).toBeLessThanOrEqual(start + 1);
    expect(grant.waitMs).toBeGreaterThanOrEqual(start - elapsed - 1);
    waits.push(grant.waitMs);
  }
  return waits;
}

async function row(key: string) {
  const { rows } = await db.pool.query(`SELECT factor, paused_until > clock_timestamp() AS paused FROM mako.rate_limits WHERE key = $1`, [key]);
  return rows[0] as { factor: number; paused: boolean } | undefined;
}

describe("GCRA reservations in PostgreSQL", () => {
  it("a new key starts empty (one slot now, then one per interval); an idle key refills to its burst", async () => {
    const s = source(backend(), 20, 3);
    await expectStarts(s, [0, 50, 100, 150]);
    // Full again once the last slot is a burst's worth in the past (t0 + 300 ms).
    await sleep(450);
    await expectStarts(s, [0, 0, 0, 50, 100]);
  });

  it("a pause holds every slot until it ends, then restarts without a burst", async () => {
    const key = newKey();
    const s = source(backend(), 20, 3, key);
    await s.reserve(Infinity);
    await sleep(400); // a full bucket: a burst of 3 would be allowed now
    s.pause(300, "HTTP 429 from GET /x");
    await expectStarts(s, [300, 350, 400]);
    expect(await row(key)).toMatchObject({ factor: 1 });
  });

  it("a slow-down halves the pace and the burst; successes credited with later reservations win it back", async () => {
    const key = newKey();
    const s = source(backend(), 20, 4, key);
    await s.reserve(Infinity);
    await sleep(300);
    s.slowDown(0);
    expect(s.factor).toBe(0.5);
    // 10 req/s, burst 2, and the bucket restarts empty where the (zero-length) pause ends.
    await expectStarts(s, [0, 100, 200]);
    expect((await row(key))?.factor).toBe(0.5);
    for (let i = 0; i < 40; i++) s.recover();
    await s.reserve(Infinity);
    expect(s.factor).toBe(1);
    expect((await row(key))?.factor).toBe(1);
  });

  it("a quota hint clamps the free slots: 2 left allows 2 at once, none left holds the next slot one interval", async () => {
    const s = source(backend(), 20, 3);
    await s.reserve(Infinity);
    await sleep(400);
    s.clamp(2);
    await expectStarts(s, [0, 0, 50]);
    await sleep(400);
    s.clamp(0);
    await expectStarts(s, [50, 100]);
  });

  it("rateLimitDelay holds across processes too: a spacing slower than the rate is the interval, without burst", async () => {
    const s = backend().slotSource(newKey());
    s.setPace({ requestsPerSecond: 100, burst: 10, minSpacingMs: 40 });
    await s.reserve(Infinity);
    await sleep(500);
    await expectStarts(s, [0, 40, 80]);
  });

  it("a slot further away than the caller would wait is not taken", async () => {
    const key = newKey();
    const s = source(backend(), 20, 1, key);
    s.pause(1000, "HTTP 429");
    const refused = await s.reserve(200);
    expect(refused.held).toBe(false);
    expect(refused.waitMs).toBeGreaterThan(700);
    // Nothing was taken: the first slot is still the one where the pause ends.
    const grant = await s.reserve(Infinity);
    expect(grant.waitMs).toBeGreaterThan(700);
    expect(grant.waitMs).toBeLessThanOrEqual(refused.waitMs + 1);
  });

  it("two processes reserving at once never share a slot", async () => {
    const key = newKey();
    const a = source(backend(), 100, 1, key);
    const b = source(backend(), 100, 1, key);
    const t0 = Date.now();
    const grants = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).reserve(Infinity).then((g) => Date.now() - t0 + g.waitMs)));
    // Slot times (in this process's clock, so with the statements' latency as noise) are 10 ms apart.
    const sorted = grants.sort((x, y) => x - y);
    expect(sorted[39] - sorted[0]).toBeGreaterThanOrEqual(39 * 10 - 20);
  });
});

describe("pauses between processes", () => {
  it("a pause written by one process reaches the others' limiters within milliseconds, with its reason", async () => {
    const key = newKey();
    const here = backend();
    const there = backend();
    const limiter = new RateLimiter({ requestsPerSecond: 20, burst: 1, maxConcurrentRequests: 4, minSpacingMs: 0 }, there.slotSource(key));
    await there.listening();
    const own = new RateLimiter({ requestsPerSecond: 20, burst: 1, maxConcurrentRequests: 4, minSpacingMs: 0 }, here.slotSource(key));
    own.pauseUntil(Date.now() + 2000, "HTTP 429 from GET /records");
    const t0 = Date.now();
    while (limiter.pauseRemaining() === 0 && Date.now() - t0 < 2000) await sleep(5);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(limiter.pauseRemaining()).toBeGreaterThan(1200);
    // The next request there waits for the pause and says why.
    const permit = await limiter.acquire();
    permit.release();
    expect(permit.waitedMs).toBeGreaterThan(1200);
    expect(permit.pauseReason).toBe("HTTP 429 from GET /records, seen by another process");
  });
});

describe("the limiter in front of a shared source", () => {
  const config = { requestsPerSecond: 5, burst: 1, maxConcurrentRequests: 4, minSpacingMs: 0 };

  it("drops a slot it holds when another process's pause arrives, and waits for the pause", async () => {
    const key = newKey();
    const here = backend();
    const there = backend();
    const limiter = new RateLimiter(config, there.slotSource(key));
    await there.listening();
    (await limiter.acquire()).release();
    // The next slot is 200 ms away; a 1 s pause set elsewhere arrives meanwhile.
    const t0 = Date.now();
    const next = limiter.acquire();
    await sleep(50);
    new RateLimiter(config, here.slotSource(key)).pauseUntil(Date.now() + 1000, "HTTP 429 from GET /deals");
    const permit = await next;
    permit.release();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect(permit.pauseReason).toBe("HTTP 429 from GET /deals, seen by another process");
    // The held slot was given up and a fresh one reserved after the pause.
    expect(there.stats.reservations).toBe(3);
  });

  it("gives up a slot it woke for more than an interval late (a starved event loop) and takes a fresh one", async () => {
    const b = backend();
    const limiter = new RateLimiter(config, b.slotSource(newKey()));
    (await limiter.acquire()).release();
    const next = limiter.acquire();
    await sleep(20); // the slot is reserved, 200 ms away
    const blockedUntil = Date.now() + 600;
    while (Date.now() < blockedUntil); // the process starves: its timer fires ~400 ms late
    (await next).release();
    expect(b.stats.reservations).toBe(3);
  });
});

describe("an unreachable PostgreSQL", () => {
  const DOWN = "postgres://mako:s3cret-pass@127.0.0.1:1/mako";

  it("fails the reservation after brief retries, retryably, naming the server and never the password", async () => {
    const s = source(backend(DOWN), 20, 1);
    const t0 = Date.now();
    const err = (await s.reserve(Infinity).catch((e) => e)) as RateLimitBackendError;
    expect(err).toBeInstanceOf(RateLimitBackendError);
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/^the rate limit shared in PostgreSQL at 127\.0\.0\.1:1\/mako is unreachable: .*ECONNREFUSED/);
    expect(err.message).not.toContain("s3cret");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
  });

  it("sends no request without a slot: the client retries, then gives up with a rate_limiter error", async () => {
    const api = await startFaultyApi({ records: 5 });
    apis.push(api);
    registrations.push(useSharedRateLimits(DOWN));
    const connector = new ProbeConnector({ name: "down", connector: "probe", config: {}, settings: { maxRetries: 1, retryBaseDelayMs: 10, retryMinDelayMs: 10 } });
    const err = (await connector.http(api).get("/me").catch((e) => e)) as HttpError;
    expect(err).toBeInstanceOf(HttpError);
    expect(err.kind).toBe("rate_limiter");
    expect(err.message).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/me not sent: the rate limit shared in PostgreSQL at 127\.0\.0\.1:1\/mako is unreachable: .* \(gave up after 1 retry\)$/);
    expect(err.message).not.toContain("s3cret");
    expect(api.stats.requests).toBe(0);
  });
});

class ProbeConnector extends BaseConnector {
  getMetadata() {
    return { name: "Probe", version: "0.0.1", description: "test", supportedEntities: ["records"] };
  }
  async testConnection() {
    return { success: true, message: "ok" };
  }
  getDefaultRateLimit() {
    return { requestsPerSecond: 1000, burst: 1 };
  }
  http(api: FaultyApi): HttpClient {
    return this.createHttpClient({ baseUrl: api.url, headers: { Authorization: `Bearer ${api.token}` } });
  }
}

describe("the shared backend in the SDK's registry", () => {
  it("with no limit set, the backend is never on the request path; with one, every request takes one reservation", async () => {
    const api = await startFaultyApi({ records: 5 });
    apis.push(api);
    const shared = useSharedRateLimits(db.url);
    registrations.push(shared);
    const name = `free_${process.pid}`;
    const free = new ProbeConnector({ name, connector: "probe", config: {}, settings: { requestsPerSecond: 0 } }).http(api);
    await Promise.all(Array.from({ length: 60 }, () => free.get("/me")));
    expect(api.stats.ok).toBe(60);
    expect(shared.backend.stats.statements).toBe(0);
    expect(await row(`source:probe/${name}`)).toBeUndefined();

    const paced = new ProbeConnector({ name: `paced_${process.pid}`, connector: "probe", config: {}, settings: { requestsPerSecond: 2000 } }).http(api);
    await Promise.all(Array.from({ length: 60 }, () => paced.get("/me")));
    expect(shared.backend.stats.reservations).toBe(60);
    expect(await row(`source:probe/paced_${process.pid}`)).toMatchObject({ factor: 1 });
  });

  it("Mako.open in PostgreSQL mode registers it, and close() unregisters it", async () => {
    const home = mkdtempSync(join(tmpdir(), "mako-limits-"));
    const config = { requestsPerSecond: 5, burst: 1, maxConcurrentRequests: 1, minSpacingMs: 0 };
    try {
      expect(sharedRateLimiter(newKey(), config).shared).toBe(false);
      const mako = await Mako.open({ home, databaseUrl: db.url });
      expect(sharedRateLimiter(newKey(), config).shared).toBe(true);
      await mako.close();
      expect(sharedRateLimiter(newKey(), config).shared).toBe(false);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
