import { describe, expect, it } from "vitest";
import { parseQuotaHeaders, parseQuotaPolicy, parseRetryAfter, SecretRedactor } from "../../src/connectors/base/http";
import { backoffDelay, serverDelay } from "../../src/connectors/base/http/RetryPolicy";
import { TokenBucket } from "../../src/connectors/base/http/TokenBucket";

const NOW = Date.parse("2025-03-01T12:00:00.000Z");

describe("Retry-After", () => {
  it("reads delay-seconds, zero, HTTP dates, and ignores garbage", () => {
    expect(parseRetryAfter("120", NOW)).toBe(120_000);
    expect(parseRetryAfter("1.5", NOW)).toBe(1500);
    expect(parseRetryAfter("0", NOW)).toBe(0);
    expect(parseRetryAfter("Sat, 01 Mar 2025 12:00:30 GMT", NOW)).toBe(30_000);
    expect(parseRetryAfter("Sat, 01 Mar 2025 11:00:00 GMT", NOW)).toBe(0);
    expect(parseRetryAfter("soon", NOW)).toBeUndefined();
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
  });

  it("a server's wait gets a small positive jitter; zero means back off instead", () => {
    expect(serverDelay(0)).toBe(0);
    const d = serverDelay(2000, () => 0.999);
    expect(d).toBeGreaterThanOrEqual(2000);
    expect(d).toBeLessThan(2200);
  });
});

describe("backoff", () => {
  const settings = { maxRetries: 5, baseDelayMs: 500, maxDelayMs: 4000, minDelayMs: 100 };
  it("uses full jitter under an exponential cap, floored so it cannot hot-loop", () => {
    expect(backoffDelay(1, settings, () => 0)).toBe(100);
    expect(backoffDelay(1, settings, () => 0.999)).toBeLessThanOrEqual(500);
    expect(backoffDelay(3, settings, () => 0.999)).toBeGreaterThan(1900);
    expect(backoffDelay(10, settings, () => 0.999)).toBeLessThanOrEqual(4000);
  });
});

describe("quota headers", () => {
  const h = (o: Record<string, string>) => new Headers(o);

  it("reads X-RateLimit with delta seconds, epoch seconds (with a fraction) and Reset-After", () => {
    expect(parseQuotaHeaders(h({ "x-ratelimit-remaining": "3", "x-ratelimit-reset": "20" }), NOW)).toMatchObject({ remaining: 3, resetMs: 20_000 });
    expect(parseQuotaHeaders(h({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(NOW / 1000 + 1.25) }), NOW)).toMatchObject({
      remaining: 0,
      resetMs: 1250,
    });
    expect(parseQuotaHeaders(h({ "x-ratelimit-remaining": "1", "x-ratelimit-reset-after": "0.5" }), NOW)).toMatchObject({ resetMs: 500 });
  });

  it("reads the IETF forms: separate fields, draft-07 dictionary, draft-08+ policy items (tightest wins)", () => {
    expect(parseQuotaHeaders(h({ "ratelimit-remaining": "7", "ratelimit-reset": "4" }), NOW)).toMatchObject({ remaining: 7, resetMs: 4000 });
    expect(parseQuotaHeaders(h({ ratelimit: "limit=10, remaining=2, reset=6" }), NOW)).toMatchObject({ remaining: 2, resetMs: 6000 });
    expect(parseQuotaHeaders(h({ ratelimit: '"burst";r=40;t=1, "daily";r=0;t=3600' }), NOW)).toMatchObject({ remaining: 0, resetMs: 3_600_000 });
  });

  it("reads RateLimit-Policy: the tightest short window paces, long windows (daily quotas) do not", () => {
    expect(parseQuotaPolicy(h({ "ratelimit-policy": '"burst";q=100;w=60, "daily";q=1000;w=86400' }))).toEqual({
      requestsPerSecond: 100 / 60,
      burst: 100,
      source: "RateLimit-Policy",
    });
    expect(parseQuotaPolicy(h({ "ratelimit-limit": "10, 10;w=1, 50;w=60" }))).toMatchObject({ requestsPerSecond: 50 / 60, burst: 50 });
    expect(parseQuotaPolicy(h({ "ratelimit-policy": '"daily";q=1000;w=86400' }))).toBeUndefined();
  });

  it("says nothing when the response says nothing usable", () => {
    expect(parseQuotaHeaders(h({ "x-ratelimit-limit": "100" }), NOW)).toBeUndefined();
    expect(parseQuotaHeaders(h({ "x-ratelimit-remaining": "many", "x-ratelimit-reset": "1" }), NOW)).toBeUndefined();
  });
});

describe("secret redaction", () => {
  it("masks given secrets in raw and URL-encoded form, credential parameters and URL passwords", () => {
    const r = new SecretRedactor(["s3cr et/+"]);
    r.addFromHeaders({ Authorization: "Bearer tok_abcdef", "X-Request-Id": "visible" });
    expect(r.text("token tok_abcdef and s3cr et/+ and s3cr%20et%2F%2B")).toBe("token *** and *** and ***");
    const shown = r.url("https://user:pw123@api.example.com/v1/items?api_key=k1234&limit=5&x=visible");
    expect(shown).toContain("api_key=***");
    expect(shown).toContain("limit=5");
    expect(shown).not.toContain("k1234");
    expect(shown).not.toContain("pw123");
    expect(r.text("X-Request-Id visible")).toBe("X-Request-Id visible");
  });
});

describe("token bucket", () => {
  it("starts full, refills at its rate, and can be clamped to what a server says is left", () => {
    const b = new TokenBucket(10, 3, 0);
    for (let i = 0; i < 3; i++) {
      expect(b.delayUntilToken(0)).toBe(0);
      b.take(0);
    }
    expect(b.delayUntilToken(0)).toBe(100);
    expect(b.delayUntilToken(100)).toBe(0);
    b.clampTo(0, 100);
    expect(b.delayUntilToken(100)).toBe(100);
  });

  it("never makes anyone wait at an unlimited rate", () => {
    const b = new TokenBucket(Infinity, 5, 0);
    for (let i = 0; i < 20; i++) b.take(0);
    expect(b.delayUntilToken(0)).toBe(0);
    expect(b.available).toBe(5);
  });
});
