// The fault-injecting fake API itself: tests and benchmarks rely on its pagination and faults.
import { afterEach, describe, expect, it } from "vitest";
import { startFaultyApi, type FaultyApi, type FaultyApiOptions } from "../../../bench/fakes/faultyApi";

interface Page {
  data: Array<Record<string, unknown> & { id?: string; updated_at: string }>;
  has_more: boolean;
  next_cursor?: string | null;
  next_page?: number | null;
}

const servers: FaultyApi[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function fake(options: FaultyApiOptions = {}): Promise<FaultyApi> {
  const api = await startFaultyApi(options);
  servers.push(api);
  return api;
}

async function get(api: FaultyApi, path: string, token = api.token): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(api.url + path, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function page(api: FaultyApi, path: string): Promise<Page> {
  const res = await get(api, path);
  expect(res.status).toBe(200);
  return JSON.parse(res.text) as Page;
}

async function allIds(api: FaultyApi, query: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null | undefined;
  do {
    const p = await page(api, `/records?${query}${cursor ? `&cursor=${cursor}` : ""}`);
    ids.push(...p.data.map((r) => r.id!));
    cursor = p.next_cursor;
  } while (cursor);
  return ids;
}

describe("faulty API: records", () => {
  it("serves every record once, in (updated_at, id) order, by cursor and by page", async () => {
    const api = await fake({ records: 250 });
    const expected = api.records.map((r) => r.id);
    expect(expected).toHaveLength(250);
    expect(await allIds(api, "limit=40")).toEqual(expected);

    const byPage: string[] = [];
    for (let n = 1; ; n++) {
      const p = await page(api, `/records?limit=100&page=${n}`);
      byPage.push(...p.data.map((r) => r.id!));
      if (!p.has_more) break;
      expect(p.next_page).toBe(n + 1);
    }
    expect(byPage).toEqual(expected);
  });

  it("filters by updated_since after changes, lists deletions, and answers 400 on a bad limit", async () => {
    const api = await fake({ records: 50 });
    const before = new Date().toISOString();
    const [changed] = api.upsertRecords([{ id: "rec_0000003", name: "renamed" }]);
    const [created] = api.upsertRecords([{ name: "new one" }]);
    api.touch(["rec_0000010"]);
    expect(api.deleteRecords(["rec_0000020", "missing"])).toBe(1);

    const recent = await page(api, `/records?updated_since=${encodeURIComponent(before)}`);
    expect(recent.data.map((r) => r.id)).toEqual(["rec_0000003", created.id, "rec_0000010"]);
    expect(recent.data[0].name).toBe("renamed");
    expect(changed.updated_at > before || changed.updated_at === before).toBe(true);
    expect(api.records).toHaveLength(50);
    expect(api.records.some((r) => r.id === "rec_0000020")).toBe(false);
    const deleted = JSON.parse((await get(api, `/records/deleted?updated_since=${encodeURIComponent(before)}`)).text);
    expect(deleted.data.map((d: { id: string }) => d.id)).toEqual(["rec_0000020"]);

    const bad = await get(api, "/records?limit=1001");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error).toMatchObject({ type: "invalid_request", param: "limit" });
  });

  it("answers 401 with a JSON error on a wrong or missing token", async () => {
    const api = await fake();
    const res = await get(api, "/records", "nope");
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text)).toEqual({ error: { type: "unauthorized", message: "The bearer token is not valid" } });
    expect((await fetch(api.url + "/records")).status).toBe(401);
    expect(api.stats.unauthorized).toBe(2);
  });
});

describe("faulty API: faults", () => {
  it("can repeat the previous cursor, serve empty pages forever, and drop ids", async () => {
    const api = await fake({ records: 30, faults: { repeatCursor: true } });
    const first = await page(api, "/records?limit=10");
    const second = await page(api, `/records?limit=10&cursor=${first.next_cursor}`);
    expect(second.next_cursor).toBe(first.next_cursor);

    api.setFaults({ repeatCursor: false, emptyPagesForever: true });
    const e1 = await page(api, "/records");
    const e2 = await page(api, `/records?cursor=${e1.next_cursor}`);
    expect([e1.data.length, e2.data.length, e1.has_more, e2.has_more]).toEqual([0, 0, true, true]);
    expect(e2.next_cursor).not.toBe(e1.next_cursor);

    api.setFaults({ emptyPagesForever: false, missingIdRate: 1 });
    const noIds = await page(api, "/records?limit=3");
    expect(noIds.data).toHaveLength(3);
    expect(noIds.data.every((r) => r.id === undefined && typeof r.updated_at === "string")).toBe(true);
  });

  it("limits with a token bucket: 429 with Retry-After and X-RateLimit headers, and counts requests during the penalty", async () => {
    const api = await fake({ faults: { rateLimit: { requestsPerSecond: 1, burst: 2 } } });
    const statuses: number[] = [];
    let last: Headers | undefined;
    for (let i = 0; i < 4; i++) {
      const res = await get(api, "/me");
      statuses.push(res.status);
      last = res.headers;
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
    expect(last!.get("retry-after")).toBe("1");
    expect(last!.get("x-ratelimit-remaining")).toBe("0");
    expect(Number(last!.get("x-ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000);
    expect(api.stats).toMatchObject({ rateLimited: 2, requestsDuringPenalty: 1 });

    // A slow refill (1/s), so that a loaded machine cannot refill the bucket between requests.
    api.setFaults({ rateLimit: { requestsPerSecond: 1, burst: 4 }, rateLimitHeaders: "ietf", retryAfterFormat: "date" });
    const ietf = await get(api, "/me");
    expect(ietf.headers.get("ratelimit-policy")).toBe('"bucket";q=1;w=1');
    expect(ietf.headers.get("ratelimit")).toMatch(/^"bucket";r=3;t=1$/);
    for (let i = 0; i < 3; i++) await get(api, "/me");
    const limited = await get(api, "/me");
    expect(limited.status).toBe(429);
    expect(Date.parse(limited.headers.get("retry-after")!)).toBeGreaterThan(Date.now());
  });

  it("draws the same faults from the same seed", async () => {
    const run = async () => {
      const api = await fake({ seed: 42, faults: { errorRate: 0.3, truncateRate: 0.2 } });
      const out: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await get(api, "/me");
        out.push(`${res.status}:${res.text.length}`);
      }
      return out;
    };
    const a = await run();
    expect(await run()).toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(1);
  });

  it("drops connections mid-response and cuts bodies short", async () => {
    const api = await fake({ faults: { script: ["drop", "truncate", "nonjson"] } });
    await expect(get(api, "/records")).rejects.toThrow();
    const truncated = await get(api, "/records");
    expect(() => JSON.parse(truncated.text)).toThrow();
    const html = await get(api, "/records");
    expect(html.headers.get("content-type")).toBe("text/html");
    expect(api.stats).toMatchObject({ drops: 1, truncated: 1, nonJson: 1 });
  });

  it("serves 1,000-record pages fast enough for benchmarks", async () => {
    const api = await fake({ records: 20_000 });
    const start = performance.now();
    let served = 0;
    // Four readers at once, as a benchmark with parallel entities would.
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        for (let n = 1 + w; n <= 20; n += 4) {
          const p = await page(api, `/records?limit=1000&page=${n}`);
          served += p.data.length;
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    expect(served).toBe(20_000);
    console.log(`faulty API: 20 pages of 1,000 records in ${seconds.toFixed(3)} s (${(20 / seconds).toFixed(0)} pages/s)`);
    expect(seconds).toBeLessThan(3);
  });
});
