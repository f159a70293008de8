// The shared HTTP client against the real fault-injecting fake API on loopback.
import { afterEach, describe, expect, it } from "vitest";
import { startFaultyApi, type FaultyApi, type FaultyApiOptions } from "../../../bench/fakes/faultyApi";
import { BaseConnector } from "../../src/connectors/base/BaseConnector";
import type { ConnectorObserver, DataSourceSettings, RequestMetric } from "../../src/connectors/base/types";
import {
  HttpClient,
  HttpError,
  RateLimiter,
  resolveClientSettings,
  resolveLimiterConfig,
  type HttpClientOptions,
} from "../../src/connectors/base/http";

interface Page {
  data: Array<{ id: string }>;
  has_more: boolean;
  next_cursor: string | null;
}

const servers: FaultyApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(options: FaultyApiOptions = {}): Promise<FaultyApi> {
  const api = await startFaultyApi({ records: 20, ...options });
  servers.push(api);
  return api;
}

function recorder() {
  const counts: Record<RequestMetric, number> = { requests: 0, retries: 0, rateLimited: 0, waitMs: 0 };
  const logs: string[] = [];
  const observer: ConnectorObserver = {
    log: (level, message) => logs.push(`${level} ${message}`),
    count: (metric, amount) => (counts[metric] += amount),
  };
  return { counts, logs, observer };
}

/** Fast retries for tests; everything else as a data source would set it. */
const FAST: DataSourceSettings = { retryBaseDelayMs: 20, retryMinDelayMs: 10, requestsPerSecond: 1000, burst: 1000 };

function clientFor(api: FaultyApi, settings: DataSourceSettings = {}, options: Partial<HttpClientOptions> = {}) {
  const all = { ...FAST, ...settings };
  const rec = recorder();
  const limiter = new RateLimiter(resolveLimiterConfig(all, { requestsPerSecond: 1000 }));
  const client = new HttpClient(
    { baseUrl: api.url, headers: { Authorization: `Bearer ${api.token}` }, ...options },
    { limiter, settings: resolveClientSettings(all), observer: () => rec.observer },
  );
  return { client, limiter, ...rec };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - start };
}

async function failure(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error("expected the request to fail");
}

describe("pacing", () => {
  it("a token bucket of R req/s makes N requests take at least (N - burst) / R", async () => {
    const api = await fake();
    const { client, counts } = clientFor(api, { requestsPerSecond: 20, burst: 1 });
    const { ms } = await timed(async () => {
      for (let i = 0; i < 21; i++) await client.get("/me");
    });
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(4000);
    expect(counts.requests).toBe(21);
    // Waits are counted; each request's own latency already counts towards the next token.
    expect(counts.waitMs).toBeGreaterThan(0);
    expect(counts.waitMs).toBeLessThanOrEqual(ms);
  });

  it("caps requests in flight and keeps rateLimitDelay as a minimum spacing", async () => {
    const api = await fake({ faults: { slowRate: 1, slowMs: 150 } });
    const { client } = clientFor(api, { maxConcurrentRequests: 2 });
    const { ms } = await timed(() => Promise.all(Array.from({ length: 6 }, () => client.get("/me"))));
    expect(api.stats.maxInFlight).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(440);

    const spaced = clientFor(api, { rateLimitDelay: 60 });
    api.setFaults({ slowRate: 0 });
    const { ms: spacedMs } = await timed(() => Promise.all(Array.from({ length: 5 }, () => spaced.client.get("/me"))));
    expect(spacedMs).toBeGreaterThanOrEqual(235);
  });
});

describe("server-imposed waits", () => {
  it("honours Retry-After in seconds and sends nothing during the penalty", async () => {
    const api = await fake({ faults: { rateLimit: { requestsPerSecond: 1, burst: 1 }, rateLimitHeaders: "none" } });
    const { client, counts, logs } = clientFor(api);
    const { ms } = await timed(async () => {
      await client.get("/me");
      await client.get("/me");
    });
    expect(api.stats.rateLimited).toBe(1);
    expect(api.stats.requestsDuringPenalty).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(counts).toMatchObject({ requests: 3, retries: 1, rateLimited: 1 });
    expect(counts.waitMs).toBeGreaterThanOrEqual(1000);
    expect(logs.some((l) => l.startsWith("warn") && l.includes("HTTP 429") && l.includes("retry 1/5"))).toBe(true);
  });

  it("honours Retry-After as an HTTP date", async () => {
    const api = await fake({ faults: { rateLimit: { requestsPerSecond: 1, burst: 1 }, rateLimitHeaders: "none", retryAfterFormat: "date" } });
    const { client } = clientFor(api);
    await client.get("/me");
    await client.get("/me");
    expect(api.stats.rateLimited).toBe(1);
    expect(api.stats.requestsDuringPenalty).toBe(0);
  });

  it("Retry-After: 0 backs off instead of hot-looping", async () => {
    const api = await fake({ faults: { retryAfterSeconds: 0, script: ["429", "429", "429"] } });
    const { client, counts } = clientFor(api, { retryMinDelayMs: 50 });
    const { ms } = await timed(() => client.get("/me"));
    expect(api.stats.requests).toBe(4);
    expect(counts.retries).toBe(3);
    expect(ms).toBeGreaterThanOrEqual(150);
  });

  it("X-RateLimit-Remaining/-Reset slow the client down before any 429", async () => {
    const api = await fake({ faults: { rateLimit: { requestsPerSecond: 20, burst: 5 }, rateLimitHeaders: "x-ratelimit" } });
    const { client, counts } = clientFor(api);
    const { ms } = await timed(async () => {
      for (let i = 0; i < 25; i++) await client.get("/me");
    });
    expect(api.stats.rateLimited).toBe(0);
    expect(counts.rateLimited).toBe(0);
    expect(ms).toBeGreaterThanOrEqual(900);
  });

  it("the IETF RateLimit field slows the client down before any 429", async () => {
    const api = await fake({ faults: { rateLimit: { requestsPerSecond: 20, burst: 4 }, rateLimitHeaders: "ietf" } });
    const { client, logs } = clientFor(api);
    const { ms } = await timed(async () => {
      for (let i = 0; i < 9; i++) await client.get("/me");
    });
    expect(api.stats.rateLimited).toBe(0);
    expect(logs.some((l) => l.includes("RateLimit-Policy allows 20 requests per 1.0 s: pacing this data source at 20.00 req/s"))).toBe(true);
    // Paced from the policy (and, when the quota runs out first, held until its reset): 9
    // requests after a burst of 4 cannot take less than 5 × 50 ms. Whether the quota reaches 0
    // depends on timing on a loaded machine, so only the outcome is asserted.
    expect(ms).toBeGreaterThanOrEqual(240);
  });

  it("a 429 halves the pace with no burst after the penalty, and successes win it back", async () => {
    const api = await fake({ faults: { script: ["429"], retryAfterSeconds: 1 } });
    const { client, limiter, logs } = clientFor(api, { requestsPerSecond: 40, burst: 40 });
    const { ms } = await timed(async () => {
      for (let i = 0; i < 4; i++) await client.get("/me");
    });
    expect(logs).toContain("info HTTP 429: pacing this data source at 20.00 req/s until requests succeed again");
    // After the 1 s penalty the bucket restarts empty at ~20 req/s: 4 requests cannot all burst.
    expect(ms).toBeGreaterThanOrEqual(1000 + 3 * 45);
    expect(api.stats.requestsDuringPenalty).toBe(0);
    for (let i = 0; i < 40; i++) await client.get("/me");
    expect(limiter.effectiveRate).toBe(40);
  });

  it("a Retry-After of hours fails at once with wait_too_long, and pauses the whole source", async () => {
    const api = await fake({ faults: { retryAfterSeconds: 7200, script: ["429"] } });
    const { client } = clientFor(api);
    const { value: err, ms } = await timed(() => failure(client.get("/me")));
    expect(ms).toBeLessThan(1000);
    expect(err.kind).toBe("wait_too_long");
    expect(err.retryable).toBe(false);
    expect(err.retryAfterMs).toBe(7_200_000);
    expect(err.message).toMatch(/told to wait 2 h 0 min .*maxRetryAfterMs/);

    const again = await failure(client.get("/records"));
    expect(again.kind).toBe("wait_too_long");
    expect(api.stats.requests).toBe(1);
    expect(api.stats.requestsDuringPenalty).toBe(0);
  });

  it("maxRetryAfterMs from settings sets that cap", async () => {
    const api = await fake({ faults: { retryAfterSeconds: 2, script: ["429"] } });
    const { client } = clientFor(api, { maxRetryAfterMs: 1000 });
    expect((await failure(client.get("/me"))).kind).toBe("wait_too_long");
  });

  it("an abort signal ends a wait at once", async () => {
    const api = await fake({ faults: { retryAfterSeconds: 60, script: ["429"] } });
    const { client } = clientFor(api);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const start = performance.now();
    await expect(client.get("/me", undefined, { signal: controller.signal })).rejects.toMatchObject({ name: "AbortError" });
    expect(performance.now() - start).toBeLessThan(1000);
    expect(api.stats.requests).toBe(1);
  });

  it("an abort signal ends a request in flight", async () => {
    const api = await fake({ faults: { slowRate: 1, slowMs: 5000 } });
    const { client } = clientFor(api);
    const start = performance.now();
    await expect(client.get("/me", undefined, { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ name: "TimeoutError" });
    expect(performance.now() - start).toBeLessThan(1000);
    expect(api.stats.requests).toBe(1);
  });
});

describe("retries", () => {
  it("retries a 500, a dropped connection and a timeout, then succeeds", async () => {
    const api = await fake({ faults: { script: ["500", "drop", "slow"], slowMs: 1000 } });
    const { client, counts, logs } = clientFor(api, { requestTimeoutMs: 200 });
    const page = await client.get<Page>("/records", { limit: 5 });
    expect(page.data).toHaveLength(5);
    expect(api.stats).toMatchObject({ errors500: 1, drops: 1, slow: 1, requests: 4 });
    expect(counts.retries).toBe(3);
    const warnings = logs.filter((l) => l.startsWith("warn")).join("\n");
    expect(warnings).toContain("HTTP 500");
    expect(warnings).toMatch(/connection dropped|connection reset/);
    expect(warnings).toContain("timed out after 200 ms");
  });

  it("reads every page through random 500s and drops (seeded)", async () => {
    const api = await fake({ records: 300, seed: 7, faults: { errorRate: 0.15, dropRate: 0.1 } });
    const { client } = clientFor(api, { maxRetries: 8 });
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.get<Page>("/records", { limit: 10, cursor });
      ids.push(...page.data.map((r) => r.id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(ids).toEqual(api.records.map((r) => r.id));
    expect(api.stats.errors500 + api.stats.drops).toBeGreaterThan(3);
  });

  it("gives up after maxRetries with a final, non-retryable error", async () => {
    const api = await fake({ faults: { errorRate: 1 } });
    const { client, counts } = clientFor(api, { maxRetries: 2 });
    const err = await failure(client.get("/me"));
    expect(err).toMatchObject({ kind: "http", status: 500, retryable: false });
    expect(err.message).toContain("gave up after 2 retries");
    expect(api.stats.requests).toBe(3);
    expect(counts.retries).toBe(2);
  });

  it("retries a refused connection, then fails naming the cause", async () => {
    const api = await fake();
    const closedUrl = api.url;
    await servers.pop()!.close();
    const { client, counts } = clientFor({ ...api, url: closedUrl }, { maxRetries: 2 });
    const err = await failure(client.get("/me"));
    expect(err).toMatchObject({ kind: "network", retryable: false });
    expect(err.message).toBe(`GET ${closedUrl}/me failed: connection refused (ECONNREFUSED) (gave up after 2 retries)`);
    expect(counts).toMatchObject({ requests: 3, retries: 2 });
  });

  it("a truncated JSON body is retried, then fails as a parse error naming the URL and the body start", async () => {
    const api = await fake({ faults: { truncateRate: 1 } });
    const { client } = clientFor(api, { maxRetries: 1 });
    const err = await failure(client.get("/records", { limit: 3 }));
    expect(err).toMatchObject({ kind: "parse", retryable: false, status: 200 });
    expect(err.message).toContain(`GET ${api.url}/records?limit=3`);
    expect(err.message).toContain('{"data":[{"id":"rec_0000001"');
    expect(api.stats.truncated).toBe(2);
  });

  it("a non-JSON body fails as a parse error quoting it", async () => {
    const api = await fake({ faults: { nonJsonRate: 1 } });
    const { client } = clientFor(api, { maxRetries: 1 });
    const err = await failure(client.get("/me"));
    expect(err.kind).toBe("parse");
    expect(err.message).toContain("<html><head><title>502 Bad Gateway");
    // Asking for text is not a parse failure.
    const text = await client.request<string>({ path: "/me", responseType: "text" }).catch((e) => e);
    expect(text.body).toContain("<html>");
  });
});

describe("errors people read", () => {
  const KEY = "sk_live_51SECRETKEY";

  it("a 4xx fails at once, naming method, URL without secrets, status and the body start", async () => {
    const api = await fake();
    const { client, logs } = clientFor(api, {}, { query: { api_key: KEY } });
    const err = await failure(client.get("/nope", { page: 2 }));
    expect(err).toMatchObject({ kind: "http", status: 404, retryable: false, credentialsRejected: false, method: "GET" });
    expect(err.message).toBe(
      `GET ${api.url}/nope?api_key=***&page=2 failed: HTTP 404 Not Found: {"error":{"type":"not_found","message":"No route for GET /nope"}}`,
    );
    expect(api.stats.requests).toBe(1);

    const bad = await failure(client.get("/records", { limit: "lots" }));
    expect(bad.status).toBe(400);
    expect(bad.message).toContain("limit must be an integer between 1 and 1000");
    for (const text of [err.message, err.url, bad.message, ...logs]) {
      expect(text).not.toContain(KEY);
      expect(text).not.toContain(api.token);
    }
  });

  it("a wrong token says credentials rejected, is not retried and is not shown", async () => {
    const api = await fake();
    const wrong = "tok_wrong_0123456789";
    const { client } = clientFor(api, {}, { headers: { Authorization: `Bearer ${wrong}` } });
    const err = await failure(client.get("/records"));
    expect(err).toMatchObject({ status: 401, credentialsRejected: true, retryable: false });
    expect(err.message).toContain("credentials rejected");
    expect(err.message).toContain("The bearer token is not valid");
    expect(err.message).not.toContain(wrong);
    expect(api.stats.requests).toBe(1);

    // A token in the query string is masked in the URL as well.
    const inQuery = clientFor(api, {}, { headers: {}, query: { access_token: wrong } });
    const err2 = await failure(inQuery.client.get("/records"));
    expect(err2.message).toContain("access_token=***");
    expect(err2.message).not.toContain(wrong);
  });

  it("posts JSON and forms", async () => {
    const api = await fake();
    const { client } = clientFor(api);
    expect(await client.post("/echo", { a: 1 })).toMatchObject({ method: "POST", contentType: "application/json", body: '{"a":1}' });
    expect(await client.post("/echo", undefined, { form: { q: "a b" } })).toMatchObject({
      contentType: "application/x-www-form-urlencoded",
      body: "q=a+b",
    });
  });
});

class FakeApiConnector extends BaseConnector {
  getMetadata() {
    return { name: "Fake API", version: "0.0.1", description: "test", supportedEntities: ["records"] };
  }
  async testConnection() {
    return { success: true, message: "ok" };
  }
  getDefaultRateLimit() {
    return { requestsPerSecond: 50, burst: 5, maxConcurrentRequests: 1 };
  }
  http(api: FaultyApi): HttpClient {
    return this.createHttpClient({ baseUrl: api.url, headers: { Authorization: `Bearer ${api.token}` } });
  }
}

describe("BaseConnector.createHttpClient", () => {
  it("shares one limiter per data source, so a 429 holds back every entity, and reports to the observer attached later", async () => {
    const api = await fake({ faults: { script: ["ok", "429"], retryAfterSeconds: 1 } });
    const dataSource = { name: `shared-${Date.now()}`, connector: "fake-api", config: {}, settings: { retryMinDelayMs: 10 } };
    const a = new FakeApiConnector(dataSource);
    const b = new FakeApiConnector(dataSource);
    const clientA = a.http(api);
    const clientB = b.http(api);
    const rec = recorder();
    a.observe(rec.observer);
    b.observe(rec.observer);

    const loop = async (client: HttpClient) => {
      for (let i = 0; i < 4; i++) await client.get("/me");
    };
    const { ms } = await timed(() => Promise.all([loop(clientA), loop(clientB)]));
    expect(api.stats.rateLimited).toBe(1);
    expect(api.stats.requestsDuringPenalty).toBe(0);
    expect(api.stats.maxInFlight).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(rec.counts).toMatchObject({ requests: 9, retries: 1, rateLimited: 1 });
  });

  it("rejects a bad setting with a one-line error naming it", async () => {
    const api = await fake();
    const c = new FakeApiConnector({ name: "bad", connector: "fake-api", config: {}, settings: JSON.parse('{"requestsPerSecond":"fast"}') });
    expect(() => c.http(api)).toThrow('settings.requestsPerSecond must be a number ≥ 0 (got "fast")');
  });
});
