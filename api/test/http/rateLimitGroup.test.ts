// The rateLimitGroup setting in SQLite mode: sources of one group share one in-process
// limiter (one vendor account, one budget); a bad group name is a one-line error naming it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startFaultyApi, type FaultyApi } from "../../../bench/fakes/faultyApi";
import { BaseConnector } from "../../src/connectors/base/BaseConnector";
import type { DataSourceSettings } from "../../src/connectors/base/types";
import type { HttpClient } from "../../src/connectors/base/http";
import { Mako, ValidationError } from "../../src/Mako";

const apis: FaultyApi[] = [];
afterAll(async () => {
  await Promise.all(apis.map((a) => a.close()));
});

class AccountConnector extends BaseConnector {
  getMetadata() {
    return { name: "Account", version: "0.0.1", description: "test", supportedEntities: ["records"] };
  }
  async testConnection() {
    return { success: true, message: "ok" };
  }
  http(api: FaultyApi): HttpClient {
    return this.createHttpClient({ baseUrl: api.url, headers: { Authorization: `Bearer ${api.token}` } });
  }
}

const run = `${process.pid}_${Date.now().toString(36)}`;

/** Two sources each sending 3 requests at once; how long all 6 take. */
async function twoSources(api: FaultyApi, settings: DataSourceSettings, tag: string): Promise<number> {
  const clients = ["eu", "us"].map((region) => new AccountConnector({ name: `${tag}_${region}_${run}`, connector: "account", config: {}, settings }).http(api));
  const t0 = performance.now();
  await Promise.all(clients.flatMap((c) => [c.get("/me"), c.get("/me"), c.get("/me")]));
  return performance.now() - t0;
}

describe("rateLimitGroup", () => {
  it("sources of one group draw on one budget; without a group each has its own", async () => {
    const api = await startFaultyApi({ records: 1 });
    apis.push(api);
    const pace = { requestsPerSecond: 4, burst: 1 };
    // One budget: 6 requests at 4 req/s, burst 1, take at least 5 intervals.
    expect(await twoSources(api, { ...pace, rateLimitGroup: `acct-${run}` }, "grouped")).toBeGreaterThanOrEqual(5 * 250 - 20);
    // Two budgets: 3 each, side by side, about 2 intervals.
    expect(await twoSources(api, pace, "alone")).toBeLessThan(1100);
  });

  it("a bad group name is refused naming the setting, on add, and from the SDK", async () => {
    const home = mkdtempSync(join(tmpdir(), "mako-group-"));
    const mako = await Mako.open({ home });
    try {
      const add = (rateLimitGroup: unknown) => mako.sources.add({ name: "s", connector: "sample", config: {}, settings: { rateLimitGroup } as DataSourceSettings });
      await expect(add("Acme Account!")).rejects.toThrow(ValidationError);
      await expect(add("Acme Account!")).rejects.toThrow(/^invalid settings: rateLimitGroup: use 1-63 lowercase letters, digits, "_", "-" or "\."/);
      await expect(add("a".repeat(64))).rejects.toThrow(/rateLimitGroup/);
      await expect(add(7)).rejects.toThrow(/rateLimitGroup/);
      expect(await mako.sources.list()).toEqual([]);
      await mako.sources.add({ name: "s", connector: "sample", config: {}, settings: { rateLimitGroup: "acme.prod-1" } });
      expect((await mako.sources.get("s")).settings).toEqual({ rateLimitGroup: "acme.prod-1" });
    } finally {
      await mako.close();
      rmSync(home, { recursive: true, force: true });
    }

    const api = await startFaultyApi({ records: 1 });
    apis.push(api);
    const long = `x${"Y".repeat(500)}`;
    const connector = new AccountConnector({ name: "s", connector: "account", config: {}, settings: { rateLimitGroup: long } });
    expect(() => connector.http(api)).toThrow(/^settings\.rateLimitGroup must be 1-63 lowercase letters, digits, "_", "-" or "\." \(got "xY{79}"\)$/);
  });
});
