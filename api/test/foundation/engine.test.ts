import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BaseConnector } from "../../src/connectors/base/BaseConnector";
import type { DataRecord, EntityDeclaration, FetchOptions, FetchState, ResumableFetchOptions, Since } from "../../src/connectors/base/types";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import type { SyncHooks } from "../../src/sync/EntitySync";
import type { SyncEvent } from "../../src/sync/events";
import { SyncEngine } from "../../src/sync/SyncEngine";

const dir = mkdtempSync(join(tmpdir(), "mako-engine-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let dbCount = 0;
const newDestination = () => SqliteDestination.open(join(dir, `engine-${++dbCount}.db`));

const at = (minute: number) => new Date(Date.UTC(2024, 0, 1, 0, minute)).toISOString();
const users = (from: number, to: number): DataRecord[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ id: from + i, name: `user ${from + i}`, tags: [from + i], updated_at: at(from + i) }));

interface Call {
  entity: string;
  state?: FetchState;
  since?: Since;
}
interface EntitySpec {
  records: DataRecord[];
  declaration?: EntityDeclaration;
}
/** Called before each chunk: throw to fail it, return a state to answer with instead. */
type Intercept = (call: Call, attempt: number) => FetchState | void | Promise<FetchState | void>;

/** An in-memory source paged by offset; `since` filters on the cursor field, as an API would. */
class ListConnector extends BaseConnector {
  readonly calls: Call[] = [];
  active = 0;
  maxActive = 0;

  constructor(
    readonly entities: Record<string, EntitySpec>,
    readonly intercept?: Intercept,
    readonly delayMs = 0,
  ) {
    super({ name: "list", config: {}, settings: {} });
  }

  getMetadata() {
    return { name: "List", version: "1.0.0", description: "in-test source", supportedEntities: Object.keys(this.entities) };
  }

  getEntityDeclarations() {
    return Object.fromEntries(Object.entries(this.entities).map(([name, spec]) => [name, spec.declaration ?? { cursorField: "updated_at" }]));
  }

  async testConnection() {
    return { success: true, message: "ok" };
  }

  supportsResumableFetching() {
    return true;
  }

  async fetchEntityChunk(o: ResumableFetchOptions): Promise<FetchState> {
    const call = { entity: o.entity, state: o.state, since: o.since };
    this.calls.push(call);
    this.maxActive = Math.max(this.maxActive, ++this.active);
    try {
      if (this.delayMs) await this.sleep(this.delayMs);
      const answer = await this.intercept?.(call, this.calls.length);
      if (answer) return answer;
      const spec = this.entities[o.entity];
      const cursor = spec.declaration?.cursorField ?? "updated_at";
      const source = o.since === undefined ? spec.records : spec.records.filter((r) => String(r[cursor]) >= String(o.since));
      let offset = o.state?.offset ?? 0;
      for (let i = 0; i < o.maxIterations && offset < source.length; i++) {
        const page = source.slice(offset, offset + o.batchSize);
        await o.onBatch(page);
        offset += page.length;
      }
      return { offset, hasMore: offset < source.length };
    } finally {
      this.active--;
    }
  }
}

let runs = 0;
async function sync(
  connector: BaseConnector,
  destination: SqliteDestination,
  options: { fullRefresh?: boolean; settings?: Record<string, number>; hooks?: SyncHooks; signal?: AbortSignal; entities?: string[] } = {},
) {
  const events: SyncEvent[] = [];
  const result = await new SyncEngine().run({
    runId: `run_${++runs}`,
    namespace: "t",
    connector,
    destination,
    // 10 records a chunk: 2 calls of 5.
    settings: { batchSize: 5, maxIterations: 2, ...options.settings },
    entities: options.entities,
    fullRefresh: options.fullRefresh,
    signal: options.signal,
    hooks: options.hooks,
    onEvent: (e) => events.push(e),
  });
  const logs = events.flatMap((e) => (e.type === "log" ? [`${e.level}: ${e.message}`] : []));
  return { result, entity: result.entities[0], logs };
}

const content = (d: SqliteDestination, table = "t__users") =>
  (d.db.prepare(`SELECT * FROM "${table}" ORDER BY id`).all() as DataRecord[]).map(({ _mako_synced_at, _mako_version, ...rest }) => rest);
const tableExists = (d: SqliteDestination, table = "t__users") =>
  d.db.prepare(`SELECT 1 FROM sqlite_master WHERE name = ?`).get(table) !== undefined;
const count = (d: SqliteDestination, table = "t__users") =>
  tableExists(d, table) ? (d.db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n : 0;

const crash = () => {
  throw new Error("simulated crash");
};

describe("SyncEngine", () => {
  it("a crash before or after any commit, then a resume, gives the destination of an uninterrupted run", async () => {
    const source = { users: { records: users(1, 47) }, orders: { records: users(1, 12) } };
    const reference = newDestination();
    expect((await sync(new ListConnector(source), reference)).result.status).toBe("succeeded");
    const expected = content(reference);
    expect(expected).toHaveLength(47);

    for (const when of ["beforeCommit", "afterCommit"] as const) {
      for (const crashAt of [1, 3, 5]) {
        const d = newDestination();
        const first = await sync(new ListConnector(source), d, {
          hooks: { [when]: (entity: string, seq: number) => (entity === "users" && seq === crashAt ? crash() : undefined) },
        });
        expect(first.entity.status).toBe("failed");
        const committedChunks = when === "afterCommit" ? crashAt : crashAt - 1;
        const committed = Math.min(47, committedChunks * 10);
        expect(count(d)).toBe(committed);

        const resumedConnector = new ListConnector(source);
        const resumed = await sync(resumedConnector, d);
        expect(resumed.result.status).toBe("succeeded");
        expect(resumed.entity.resumed).toBe(committedChunks > 0);
        // Only what was not committed is fetched again; after the last chunk, nothing is.
        const firstCall = resumedConnector.calls.find((c) => c.entity === "users");
        if (committed === 47) expect(firstCall).toBeUndefined();
        else expect(firstCall?.state?.offset).toBe(committedChunks > 0 ? committed : undefined);
        expect(content(d)).toEqual(expected);
        expect(content(d, "t__orders")).toEqual(content(reference, "t__orders"));
      }
    }
  });

  it("retries a chunk that throws, from the same state, up to maxRetries", async () => {
    const failures = new Map<number, number>();
    const flaky = new ListConnector({ users: { records: users(1, 30) } }, (call) => {
      const offset = call.state?.offset ?? 0;
      if (offset === 10 && (failures.get(offset) ?? 0) < 2) {
        failures.set(offset, (failures.get(offset) ?? 0) + 1);
        throw new Error("HTTP 503 from the source");
      }
    });
    const { result, entity, logs } = await sync(flaky, newDestination(), { settings: { maxRetries: 2 } });
    expect(result.status).toBe("succeeded");
    expect(entity).toMatchObject({ records: 30, chunkRetries: 2 });
    expect(flaky.calls.map((c) => c.state?.offset)).toEqual([undefined, 10, 10, 10, 20]);
    expect(logs.filter((l) => l.includes("HTTP 503"))).toHaveLength(2);
  });

  it("waits err.retryAfterMs before retrying", async () => {
    const times: number[] = [];
    const limited = new ListConnector({ users: { records: users(1, 5) } }, () => {
      times.push(Date.now());
      if (times.length === 1) throw Object.assign(new Error("HTTP 429"), { retryAfterMs: 400 });
    });
    const { result, logs } = await sync(limited, newDestination(), { settings: { maxRetries: 1 } });
    expect(result.status).toBe("succeeded");
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(390);
    expect(times[1] - times[0]).toBeLessThan(1500);
    expect(logs.some((l) => l.includes("retry 1/1 in 0.4s"))).toBe(true);
  });

  it("fails at once on an error with retryable = false", async () => {
    const denied = new ListConnector({ users: { records: users(1, 5) } }, () => {
      throw Object.assign(new Error("List users: credentials rejected (HTTP 401)"), { retryable: false });
    });
    const { result, entity } = await sync(denied, newDestination(), { settings: { maxRetries: 5 } });
    expect(result.status).toBe("failed");
    expect(entity).toMatchObject({ status: "failed", chunkRetries: 0, error: "List users: credentials rejected (HTTP 401)" });
    expect(denied.calls).toHaveLength(1);
  });

  it("after maxRetries the entity fails with its checkpoint intact, and the next run resumes there", async () => {
    const d = newDestination();
    let broken = true;
    const records = users(1, 35);
    const failing = new ListConnector({ users: { records } }, (call) => {
      if (broken && call.state?.offset === 20) throw Object.assign(new Error("HTTP 500"), { retryAfterMs: 1 });
    });
    const { result, entity } = await sync(failing, d, { settings: { maxRetries: 2 } });
    expect(result.status).toBe("failed");
    expect(entity).toMatchObject({ status: "failed", records: 20, chunkRetries: 2, error: "HTTP 500" });
    expect(failing.calls.filter((c) => c.state?.offset === 20)).toHaveLength(3);
    const checkpoint = await d.loadCheckpoint({ namespace: "t", entity: "users" });
    expect(checkpoint).toMatchObject({ seq: 2, records: 20, fetchState: { offset: 20, hasMore: true } });

    broken = false;
    const next = new ListConnector({ users: { records } });
    const resumed = await sync(next, d);
    expect(resumed.entity).toMatchObject({ status: "succeeded", resumed: true, records: 15 });
    expect(next.calls[0].state?.offset).toBe(20);
    expect(count(d)).toBe(35);
  });

  it("rejects a record without its primary key, naming entity and key, writing nothing", async () => {
    const d = newDestination();
    const records: DataRecord[] = [{ sku: "A-1" }, { sku: "A-2" }, { title: "no sku" }];
    const { entity } = await sync(new ListConnector({ products: { records, declaration: { primaryKey: "sku" } } }), d);
    expect(entity.status).toBe("failed");
    expect(entity.error).toBe('entity "products": record 3 of chunk 1 has no primary key "sku"');
    expect(tableExists(d, "t__products")).toBe(false);
    expect(await d.loadCheckpoint({ namespace: "t", entity: "products" })).toBeNull();
  });

  it("completes an entity that has no records at all", async () => {
    const d = newDestination();
    const { entity } = await sync(new ListConnector({ users: { records: [] } }), d);
    expect(entity).toMatchObject({ status: "succeeded", records: 0 });
    expect(await d.loadCheckpoint({ namespace: "t", entity: "users" })).toMatchObject({ fetchState: null });
  });

  it("detects a loop when the source returns the same position twice", async () => {
    const stuck = new ListConnector({ users: { records: users(1, 20) } }, (call) => {
      if (call.state) return { offset: call.state.offset, hasMore: true };
    });
    const { entity } = await sync(stuck, newDestination(), { settings: { maxRetries: 3 } });
    expect(entity.status).toBe("failed");
    expect(entity.error).toMatch(/entity "users": detected a loop — the source returned the same position/);
    // A loop is not retried.
    expect(entity.chunkRetries).toBe(0);
  });

  it("detects a loop when pages keep coming back empty while hasMore stays true", async () => {
    const empty = new ListConnector({ users: { records: [] } }, (call) => ({ page: (call.state?.page ?? 0) + 1, hasMore: true }));
    const { entity } = await sync(empty, newDestination(), { settings: { maxEmptyChunks: 3 } });
    expect(entity.status).toBe("failed");
    expect(entity.error).toMatch(/detected a loop — 3 chunks in a row returned no records/);
    expect(empty.calls.length).toBeLessThanOrEqual(4);
  });

  it("passes since = the high-water mark of the last completed pass, minus lookbackSeconds", async () => {
    const d = newDestination();
    const spec = { users: { records: users(1, 20) } };
    const first = new ListConnector(spec);
    expect((await sync(first, d)).entity.since).toBeNull();
    expect(first.calls[0].since).toBeUndefined();

    spec.users.records = users(1, 26);
    const second = new ListConnector(spec);
    const run2 = await sync(second, d);
    expect(second.calls[0].since).toBe(at(20));
    // The record at the mark itself is read again (>=), and the 6 new ones.
    expect(run2.entity).toMatchObject({ status: "succeeded", records: 7, since: at(20) });

    const third = new ListConnector(spec);
    await sync(third, d, { settings: { lookbackSeconds: 180 } });
    expect(third.calls[0].since).toBe(at(23));
    expect(count(d)).toBe(26);
  });

  it("keeps a resumed pass on the since it started with; the new mark counts only once the pass completes", async () => {
    const d = newDestination();
    const spec = { users: { records: users(1, 10) } };
    await sync(new ListConnector(spec), d);
    spec.users.records = users(1, 40);

    const crashed = await sync(new ListConnector(spec), d, { hooks: { afterCommit: (_e, seq) => (seq === 2 ? crash() : undefined) } });
    expect(crashed.entity.status).toBe("failed");
    const stored = await d.loadCheckpoint({ namespace: "t", entity: "users" });
    expect(stored).toMatchObject({ since: at(10), highWaterMark: at(10), maxCursor: at(29) });

    const resumed = new ListConnector(spec);
    const run = await sync(resumed, d);
    expect(run.entity).toMatchObject({ status: "succeeded", resumed: true, since: at(10) });
    expect(resumed.calls.every((c) => c.since === at(10))).toBe(true);

    const after = new ListConnector(spec);
    await sync(after, d);
    expect(after.calls[0].since).toBe(at(40));
  });

  it("uses metadata.highWaterMark of the final state as the next since", async () => {
    const d = newDestination();
    const events = new ListConnector({ events: { records: [], declaration: { incremental: true } } }, (call) => {
      if (!call.state) return { cursor: "evt_1", hasMore: true };
      return { cursor: "evt_2", hasMore: false, metadata: { highWaterMark: "evt_2" } };
    });
    expect((await sync(events, d)).entity.status).toBe("succeeded");
    const next = new ListConnector(events.entities, (call) => ({ cursor: String(call.since), hasMore: false }));
    await sync(next, d);
    expect(next.calls[0].since).toBe("evt_2");
  });

  it("a full refresh reads everything and marks rows it did not see as deleted", async () => {
    const d = newDestination();
    const spec = { users: { records: users(1, 12) } };
    await sync(new ListConnector(spec), d);
    spec.users.records = users(1, 12).filter((r) => r.id !== 3 && r.id !== 4);
    // An incremental pass never deletes.
    await sync(new ListConnector(spec), d);
    expect(content(d).filter((r) => r._mako_deleted_at !== null)).toEqual([]);

    await new Promise((r) => setTimeout(r, 5));
    const refresh = new ListConnector(spec);
    const run = await sync(refresh, d, { fullRefresh: true });
    expect(refresh.calls[0].since).toBeUndefined();
    expect(run.entity).toMatchObject({ status: "succeeded", mode: "full_refresh", deleted: 2, records: 10 });
    expect(content(d).filter((r) => r._mako_deleted_at !== null).map((r) => r.id)).toEqual([3, 4]);
    expect(count(d)).toBe(12);
  });

  it("a full refresh crashed mid-pass leaves the live table as it was; the resumed pass swaps in the new rows", async () => {
    const d = newDestination();
    const spec = { users: { records: users(1, 30) } };
    await sync(new ListConnector(spec), d);
    const before = content(d);
    // The source changed: rows 3 and 4 are gone, every other row gained a field.
    spec.users.records = users(1, 30)
      .filter((r) => r.id !== 3 && r.id !== 4)
      .map((r) => ({ ...r, tier: "gold" }));
    await new Promise((r) => setTimeout(r, 5));
    const crashed = await sync(new ListConnector(spec), d, {
      fullRefresh: true,
      hooks: { afterCommit: (_e, seq) => (seq === 2 ? crash() : undefined) },
    });
    expect(crashed.entity.status).toBe("failed");
    expect(content(d)).toEqual(before);

    const resumed = await sync(new ListConnector(spec), d);
    expect(resumed.entity).toMatchObject({ status: "succeeded", mode: "full_refresh", resumed: true, deleted: 2 });
    const after = content(d);
    expect(after).toHaveLength(30);
    expect(after.filter((r) => r._mako_deleted_at !== null).map((r) => r.id)).toEqual([3, 4]);
    expect(after.filter((r) => r.tier === "gold")).toHaveLength(28);
    expect(tableExists(d, "t__users__mako_shadow")).toBe(false);
  });

  it("runs a connector that only implements fetchEntity, and logs that it cannot resume", async () => {
    class OnePiece extends BaseConnector {
      getMetadata() {
        return { name: "OnePiece", version: "1.0.0", description: "no chunks", supportedEntities: ["users"] };
      }
      getEntityDeclarations() {
        return { users: { cursorField: "updated_at" } };
      }
      async testConnection() {
        return { success: true, message: "ok" };
      }
      async fetchEntity(options: FetchOptions) {
        for (let from = 1; from <= 25; from += 10) await options.onBatch(users(from, Math.min(25, from + 9)));
      }
    }
    const d = newDestination();
    const { entity, logs } = await sync(new OnePiece({ name: "one", config: {}, settings: {} }), d);
    expect(entity).toMatchObject({ status: "succeeded", records: 25 });
    expect(logs).toContain('warn: OnePiece cannot resume: an interrupted sync of "users" starts over');
    expect(count(d)).toBe(25);
    expect(await d.loadCheckpoint({ namespace: "t", entity: "users" })).toMatchObject({ fetchState: null, highWaterMark: at(25) });
  });

  it("a cancelled run stops at a chunk boundary, keeps its checkpoint, and the next run resumes", async () => {
    const d = newDestination();
    const spec = { users: { records: users(1, 60) } };
    const controller = new AbortController();
    const slow = new ListConnector(spec, undefined, 10);
    const run = await sync(slow, d, {
      signal: controller.signal,
      hooks: { afterCommit: (_e, seq) => (seq === 2 ? controller.abort(new Error("user cancelled")) : undefined) },
    });
    expect(run.result.status).toBe("cancelled");
    expect(run.entity.status).toBe("cancelled");
    const checkpoint = await d.loadCheckpoint({ namespace: "t", entity: "users" });
    expect(checkpoint?.records).toBeGreaterThanOrEqual(20);
    // Whole chunks only, and exactly what the checkpoint says.
    expect(count(d)).toBe(checkpoint?.records);
    expect(count(d) % 10).toBe(0);
    expect(slow.active).toBe(0);

    const resumed = await sync(new ListConnector(spec), d);
    expect(resumed.entity).toMatchObject({ status: "succeeded", resumed: true });
    expect(count(d)).toBe(60);
  });

  it("hands an entity over at a chunk boundary (a worker's slice ends): continued, checkpoint kept, the next job resumes exact", async () => {
    const source = { users: { records: users(1, 47) } };
    const d = newDestination();
    const handOver = new AbortController();
    const first = await new SyncEngine().run({
      runId: "run_slice1",
      namespace: "t",
      connector: new ListConnector(source),
      destination: d,
      settings: { batchSize: 5, maxIterations: 2 },
      handOver: handOver.signal,
      // Asked while chunk 2 commits: chunk 3, fetched meanwhile, still commits; nothing after it.
      hooks: { beforeCommit: (_e, seq) => (seq === 2 ? handOver.abort() : undefined) },
    });
    expect(first.status).toBe("running");
    expect(first.entities[0]).toMatchObject({ status: "continued", error: undefined });
    expect(count(d)).toBe(30);
    expect((await d.loadCheckpoint({ namespace: "t", entity: "users" }))?.fetchState).toMatchObject({ offset: 30, hasMore: true });
    const next = await sync(new ListConnector(source), d);
    expect(next.entity).toMatchObject({ status: "succeeded", resumed: true, records: 17 });
    expect(count(d)).toBe(47);
  });

  it("a lost lease stops the entity at once: interrupted, no more commits; a writer whose fence is behind is refused", async () => {
    const source = { users: { records: users(1, 47) } };
    const d = newDestination();
    const leaseLost = new AbortController();
    const lost = await new SyncEngine().run({
      runId: "run_lease1",
      namespace: "t",
      connector: new ListConnector(source, undefined, 5),
      destination: d,
      settings: { batchSize: 5, maxIterations: 2 },
      leaseLost: leaseLost.signal,
      fences: { users: 1 },
      hooks: { afterCommit: (_e, seq) => (seq === 1 ? leaseLost.abort() : undefined) },
    });
    expect(lost.entities[0].status).toBe("interrupted");
    expect(lost.entities[0].error).toMatch(/^lease lost: .*this worker writes nothing more$/);
    expect(count(d)).toBe(10);

    // Another writer took the entity with fence 2: a sync still holding fence 1 commits nothing.
    await d.raiseFence({ namespace: "t", entity: "users" }, 2);
    const stale = await new SyncEngine().run({ runId: "run_lease2", namespace: "t", connector: new ListConnector(source), destination: d, settings: { batchSize: 5, maxIterations: 2 }, fences: { users: 1 } });
    expect(stale.entities[0]).toMatchObject({ status: "interrupted", records: 0 });
    expect(stale.entities[0].error).toMatch(/was taken over by another worker \(fence 2; this writer's is 1\)/);
    expect(count(d)).toBe(10);
  });

  it("entityConcurrency 2 syncs two entities at once; the default, one at a time", async () => {
    const spec = { users: { records: users(1, 20) }, orders: { records: users(1, 20) } };
    const serial = new ListConnector(spec, undefined, 15);
    expect((await sync(serial, newDestination())).result.status).toBe("succeeded");
    expect(serial.maxActive).toBe(1);

    const parallel = new ListConnector(spec, undefined, 15);
    const d = newDestination();
    expect((await sync(parallel, d, { settings: { entityConcurrency: 2 } })).result.status).toBe("succeeded");
    expect(parallel.maxActive).toBe(2);
    expect([count(d, "t__users"), count(d, "t__orders")]).toEqual([20, 20]);
  });
});
