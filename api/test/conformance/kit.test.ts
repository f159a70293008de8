import { describe, expect, it } from "vitest";
import { BaseConnector } from "../../src/connectors/base/BaseConnector";
import type { FetchState, ResumableFetchOptions } from "../../src/connectors/base/types";
import { SampleConnector } from "../../src/connectors/sample";
import { checkConnector } from "../../src/conformance";

/** Loses its cursor: it keeps its position in memory, so a new process starts over. */
class ForgetfulConnector extends BaseConnector {
  private page = 0;
  getMetadata() {
    return { name: "Forgetful", version: "0.0.1", description: "loses its cursor", supportedEntities: ["items"] };
  }
  async testConnection() {
    return { success: true, message: "ok" };
  }
  supportsResumableFetching() {
    return true;
  }
  async fetchEntityChunk(options: ResumableFetchOptions): Promise<FetchState> {
    const page = this.page++;
    await options.onBatch(Array.from({ length: 10 }, (_, i) => ({ id: page * 10 + i, page })));
    return { hasMore: page < 9, totalProcessed: (options.state?.totalProcessed ?? 0) + 10 };
  }
}

describe("conformance kit", () => {
  it("passes on the sample connector, including the incremental check", async () => {
    const report = await checkConnector({
      connector: SampleConnector,
      config: { count: 300, seed: 3 },
      settings: { batchSize: 50, maxIterations: 1 },
      changeSource: async () => ({ config: { count: 420, seed: 3 } }),
    });
    expect(report.firstFailure).toBeUndefined();
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual([
      "testConnection with good credentials",
      "uninterrupted sync",
      "resume after crashes before and after each commit",
      "crash-resumed data equals the uninterrupted sync",
      "second run is idempotent",
      "full refresh is idempotent",
      "incremental run fetches fewer records",
      "incremental result equals the changed source",
    ]);
    expect(report.checks[2].detail).toMatch(/finished after \d+ simulated crashes/);
  });

  it("fails, naming the check and why, on a connector that loses its cursor", async () => {
    const report = await checkConnector({ connector: ForgetfulConnector, config: {} });
    expect(report.ok).toBe(false);
    expect(report.firstFailure).toMatch(/^resume after crashes before and after each commit: /);
    expect(report.firstFailure).toMatch(/does not resume from its state|detected a loop/);
  });
});
