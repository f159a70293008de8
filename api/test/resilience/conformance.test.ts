// The conformance kit on the guide-style connector, against the fake API misbehaving the way
// real ones do: some 500s, dropped connections and a rate limit, all through the shared client.
import { describe, expect, it } from "vitest";
import { RecordsApiConnector } from "../../../bench/connectors/RecordsApiConnector";
import { startFaultyApi } from "../../../bench/fakes/faultyApi";
import { checkConnector } from "../../src/conformance";

describe("conformance kit on RecordsApiConnector against a faulty API", () => {
  it("passes with 500s, drops and a rate limit, bad credentials and a changed source included", async () => {
    const api = await startFaultyApi({
      records: 600,
      seed: 3,
      // No quota headers (which the client would heed before any 429). The first faults are scripted so each kind surely happens; random ones follow.
      faults: { errorRate: 0.05, dropRate: 0.03, rateLimit: { requestsPerSecond: 20, burst: 5 }, rateLimitHeaders: "none", script: ["ok", "500", "drop", "ok", "drop", "500"] },
    });
    try {
      let changed: string[] = [];
      const report = await checkConnector({
        connector: RecordsApiConnector,
        config: { base_url: api.url, token: api.token },
        badConfig: { base_url: api.url, token: "not-the-token" },
        // The client is told the source allows twice what the server does, so it meets 429s and
        // must adapt; a shorter backoff than the defaults keeps the test quick.
        settings: { batchSize: 100, maxIterations: 1, maxRetries: 3, retryBaseDelayMs: 50, requestsPerSecond: 40, burst: 10 },
        changeSource: async () => {
          const created = api.upsertRecords(Array.from({ length: 20 }, (_, i) => ({ name: `new ${i}`, amount: i })));
          const touched = api.touch(api.records.slice(0, 30).map((r) => r.id));
          const updated = api.upsertRecords([{ id: api.records[100].id, name: "renamed", amount: -1 }]);
          changed = [...created, ...touched, ...updated].map((r) => r.id);
        },
      });
      for (const c of report.checks) console.log(`[conformance] ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
      console.log(
        `[conformance] server: ${api.stats.requests} requests, ${api.stats.rateLimited} 429s, ${api.stats.errors500} 500s, ` +
          `${api.stats.drops} drops, ${api.stats.unauthorized} 401s`,
      );
      expect(report.firstFailure).toBeUndefined();
      expect(report.ok).toBe(true);
      expect(report.checks.map((c) => c.name)).toEqual([
        "testConnection with good credentials",
        "testConnection with bad credentials",
        "uninterrupted sync",
        "resume after crashes before and after each commit",
        "crash-resumed data equals the uninterrupted sync",
        "second run is idempotent",
        "full refresh is idempotent",
        "incremental run fetches fewer records",
        "incremental result equals the changed source",
      ]);
      // Wrong token: the test fails, saying why, without showing the token.
      const bad = report.checks[1].detail;
      expect(bad).toMatch(/HTTP 401.*credentials rejected/);
      expect(bad).not.toContain("not-the-token");
      // The incremental run read the changed records (and the lookback's few), not all 620.
      const incremental = Number(/^(\d+) records fetched after the change/.exec(report.checks[7].detail)?.[1]);
      expect(incremental).toBeGreaterThanOrEqual(new Set(changed).size);
      expect(incremental).toBeLessThan(100);
      // The faults really happened, and were ridden out.
      expect(api.stats.errors500).toBeGreaterThan(0);
      expect(api.stats.drops).toBeGreaterThan(0);
      expect(api.stats.rateLimited).toBeGreaterThan(0);
    } finally {
      await api.close();
    }
  }, 60_000);
});
