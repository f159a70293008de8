import { describe, expect, it } from "vitest";
import { LiveRun, type LiveMessage } from "../../src/server/LiveRuns";
import { emptyStats, type EntityResult } from "../../src/sync/events";

const finished = (entity: string, records: number): EntityResult => ({
  entity,
  status: "succeeded",
  records,
  chunks: 1,
  seconds: 2,
  deleted: 0,
  resumed: false,
  mode: "incremental",
  since: null,
  chunkRetries: 1,
});

describe("LiveRun: engine events to live progress", () => {
  it("shows an entity waiting on the rate limit until it progresses again, and counts its retries", async () => {
    const run = new LiveRun(["users", "orders"]);
    const seen: LiveMessage[] = [];
    run.subscribe((m) => seen.push(m));
    const latest = (entity: string) => run.progress.get(entity)!;

    run.handle({ type: "entity_started", entity: "users", resumed: false, mode: "incremental", since: null });
    run.handle({ type: "progress", entity: "users", fetched: 100, committed: 100, total: 400, chunks: 1, elapsedMs: 500 });
    expect(latest("users")).toMatchObject({ status: "running", records: 100, total: 400, recordsPerSecond: 200, waiting: false });
    expect(latest("orders").status).toBe("pending");

    run.handle({ type: "stats", stats: { ...emptyStats(), requests: 3, rateLimited: 1, waitMs: 800, retries: 1 } });
    expect(latest("users")).toMatchObject({ waiting: true, waitingOn: "rate_limit", rateLimited: 1, retries: 1 });
    expect(latest("orders")).toMatchObject({ waiting: false, retries: 0 });
    // Counters that did not move (requests only) change nothing.
    run.handle({ type: "stats", stats: { ...emptyStats(), requests: 4, rateLimited: 1, waitMs: 800, retries: 1 } });
    expect(latest("users").waiting).toBe(true);

    run.handle({ type: "progress", entity: "users", fetched: 200, committed: 200, total: 400, chunks: 2, elapsedMs: 2000 });
    expect(latest("users")).toMatchObject({ waiting: false, records: 200, recordsPerSecond: 100 });
    expect(latest("users").waitingOn).toBeUndefined();

    // A retry's backoff after a network error is named as such, not as the rate limit.
    run.handle({ type: "stats", stats: { ...emptyStats(), requests: 5, rateLimited: 1, waitMs: 800, retries: 2 } });
    run.handle({ type: "waiting", reason: "network_error", ms: 1200 });
    expect(latest("users")).toMatchObject({ waiting: true, waitingOn: "network_error", retries: 2 });
    run.handle({ type: "stats", stats: { ...emptyStats(), requests: 5, rateLimited: 1, waitMs: 2000, retries: 2 } });
    expect(latest("users").waitingOn).toBe("network_error");
    run.handle({ type: "progress", entity: "users", fetched: 250, committed: 250, total: 400, chunks: 3, elapsedMs: 2500 });
    expect(latest("users")).toMatchObject({ waiting: false, records: 250 });
    expect(latest("users").waitingOn).toBeUndefined();

    run.handle({ type: "log", level: "warn", message: "slow down", entity: "users" });
    run.handle({ type: "entity_finished", result: finished("users", 400) });
    expect(latest("users")).toMatchObject({ status: "succeeded", records: 400, recordsPerSecond: 200, retries: 3 });

    // Progress is coalesced: flushed immediately on start/finish, at most every 200 ms otherwise.
    await new Promise((r) => setTimeout(r, 250));
    const usersUpdates = seen.filter((m) => m.event === "progress" && m.data.entity === "users");
    expect(usersUpdates.length).toBeLessThanOrEqual(4);
    expect(usersUpdates.at(-1)!.data).toMatchObject({ status: "succeeded", records: 400 });
    expect(seen.filter((m) => m.event === "log").map((m) => m.data)).toMatchObject([{ level: "warn", message: "slow down", entity: "users" }]);

    // A late subscriber gets the whole state at once.
    expect(run.snapshot().map((m) => m.event)).toEqual(["progress", "progress", "log"]);
  });
});
