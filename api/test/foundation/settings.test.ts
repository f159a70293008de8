import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Mako, ValidationError } from "../../src/Mako";

describe("data source settings", () => {
  let home: string;
  let mako: Mako;
  beforeEach(async () => {
    home = mkdtempSync(join(tmpdir(), "mako-settings-"));
    mako = await Mako.open({ home });
  });
  afterEach(async () => {
    await mako.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("refuses a misspelt setting by name, listing the real ones, and stores nothing", async () => {
    const add = mako.sources.add({ name: "s", connector: "sample", config: {}, settings: { requestPerSecond: 5 } as never });
    await expect(add).rejects.toThrow(ValidationError);
    await expect(add).rejects.toThrow(/unknown setting "requestPerSecond" \(settings are: .*requestsPerSecond/);
    expect(await mako.sources.list()).toEqual([]);
  });

  it("refuses out-of-range values naming the field, on add and on update", async () => {
    await expect(mako.sources.add({ name: "s", connector: "sample", config: {}, settings: { burst: 0 } })).rejects.toThrow(/^invalid settings: burst: /);
    await mako.sources.add({ name: "s", connector: "sample", config: {}, settings: { batchSize: 50 } });
    await expect(mako.sources.update("s", { settings: { maxIterations: -1 } })).rejects.toThrow(/maxIterations/);
    expect((await mako.sources.get("s")).settings).toEqual({ batchSize: 50 });
  });

  it("keeps valid settings and the engine uses them", async () => {
    await mako.sources.add({ name: "s", connector: "sample", config: { count: 120 }, settings: { batchSize: 10, maxIterations: 2 } });
    const { done } = await mako.sync("s", { entities: ["users"] });
    const result = await done;
    expect(result.status).toBe("succeeded");
    // 120 users, 10 per call, 2 calls per chunk: 6 chunks.
    expect(result.entities[0]).toMatchObject({ records: 120, chunks: 6 });
  });
});
