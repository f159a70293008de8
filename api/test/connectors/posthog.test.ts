import { afterEach, describe, expect, it } from "vitest";
import { startPostHogFake, type PostHogFake, type PostHogResource } from "../../../bench/fakes/posthog";
import { PostHogConnector } from "../../src/connectors/posthog";
import { checkConnector } from "../../src/conformance";
import { failures, SyncRunner } from "./syncRunner";

const SETTINGS = { batchSize: 7, maxIterations: 2, maxRetries: 1, requestsPerSecond: 1000, burst: 1000 };
const REST: PostHogResource[] = ["persons", "cohorts", "feature_flags", "insights"];

let fake: PostHogFake | undefined;
let runner: SyncRunner | undefined;
afterEach(async () => {
  await runner?.close();
  await fake?.close();
  runner = fake = undefined;
});

const configOf = (f: PostHogFake, over: Record<string, unknown> = {}) => ({ api_key: f.apiKey, project_id: String(f.projectId), base_url: f.url, ...over });

async function expectDestinationEqualsFake(r: SyncRunner, f: PostHogFake) {
  for (const resource of REST) {
    const live = await r.live(resource);
    expect([...live.keys()].sort(), resource).toEqual(f.list(resource).map((o) => String(o.id)).sort());
  }
  const events = await r.rows("events");
  expect(events.map((e) => e.uuid).sort()).toEqual(f.events().map((e) => e.uuid).sort());
}

describe("posthog connector against the local PostHog fake", () => {
  it("syncs every entity; an incremental run reads only new events (late ones through the lookback) and re-reads the small lists", async () => {
    fake = await startPostHogFake({ events: 40 });
    runner = new SyncRunner(PostHogConnector, configOf(fake), { ...SETTINGS, lookbackSeconds: 150 });
    const first = await runner.sync();
    expect(failures(first.result)).toBe("");
    await expectDestinationEqualsFake(runner, fake);
    const event = (await runner.rows("events"))[0];
    expect(JSON.parse(String(event.properties))).toHaveProperty("$current_url");

    fake.addEvents(5);
    const lateBy = new Date(Date.now() - 120_000).toISOString(); // 2 minutes late, inside the lookback
    fake.addEvents(2, { timestamp: lateBy });
    const flag = fake.list("feature_flags")[0];
    fake.update("feature_flags", flag.id, { active: false, name: "Renamed flag" });
    fake.create("cohorts", { name: "New cohort" });
    const second = await runner.sync();
    expect(failures(second.result)).toBe("");
    await expectDestinationEqualsFake(runner, fake);
    const eventsResult = second.result.entities.find((e) => e.entity === "events")!;
    expect(eventsResult.records).toBeLessThan(20);
    expect(eventsResult.records).toBeGreaterThanOrEqual(7);
    expect((await runner.live("feature_flags")).get(String(flag.id))?.name).toBe("Renamed flag");
  });

  it("asks for fresh query results: events added after a quiet sync, inside PostHog's cache window, are all read", async () => {
    fake = await startPostHogFake({ events: 9 });
    runner = new SyncRunner(PostHogConnector, configOf(fake), SETTINGS);
    expect(failures((await runner.sync({ entities: ["events"] })).result)).toBe("");
    // A quiet run: nothing new, so the next run sends the very same query.
    expect(failures((await runner.sync({ entities: ["events"] })).result)).toBe("");
    const added = fake.addEvents(25);
    const third = await runner.sync({ entities: ["events"] });
    expect(failures(third.result)).toBe("");
    const synced = new Set((await runner.rows("events")).map((e) => e.uuid));
    expect(added.filter((e) => !synced.has(e.uuid)).length, "new events missing").toBe(0);
    expect(fake.cachedAnswers()).toBe(0);
  });

  it("the fake caches query answers as PostHog documents: blocking reuses a fresh answer, force_blocking recomputes", async () => {
    fake = await startPostHogFake({ events: 3, queryCacheSeconds: 60 });
    const f = fake;
    const ask = async (extra: Record<string, unknown>) => {
      const res = await fetch(`${f.url}/api/projects/${f.projectId}/query/`, {
        method: "POST",
        headers: { authorization: `Bearer ${f.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ query: { kind: "HogQLQuery", query: "SELECT uuid, timestamp FROM events ORDER BY timestamp, uuid LIMIT 100" }, ...extra }),
      });
      return { status: res.status, body: (await res.json()) as { results: unknown[][]; is_cached: boolean; attr?: string } };
    };
    expect((await ask({})).body.results).toHaveLength(3);
    f.addEvents(2);
    const cached = await ask({});
    expect(cached.body).toMatchObject({ is_cached: true });
    expect(cached.body.results).toHaveLength(3);
    expect((await ask({ refresh: "force_blocking" })).body.results).toHaveLength(5);
    f.addEvents(1);
    f.advanceClock(61);
    expect((await ask({})).body).toMatchObject({ is_cached: false, results: expect.any(Array) });
    expect((await ask({ refresh: "sometimes" })).status).toBe(400);
    expect((await ask({ limit: 5 })).body).toMatchObject({ attr: "limit" });
  });

  it("pages events sharing one timestamp by (timestamp, uuid) without loss or repeat", async () => {
    fake = await startPostHogFake({ events: 0 });
    const at = new Date(Date.now() - 60_000).toISOString();
    fake.addEvents(23, { timestamp: at });
    runner = new SyncRunner(PostHogConnector, configOf(fake), { ...SETTINGS, batchSize: 5, maxIterations: 1 });
    const { result } = await runner.sync({ entities: ["events"] });
    expect(failures(result)).toBe("");
    expect(result.entities[0].chunks).toBeGreaterThanOrEqual(5);
    expect((await runner.rows("events")).length).toBe(23);
  });

  it("a full refresh marks persons, flags and cohorts that are gone as deleted", async () => {
    fake = await startPostHogFake({ events: 5 });
    runner = new SyncRunner(PostHogConnector, configOf(fake), SETTINGS);
    expect(failures((await runner.sync()).result)).toBe("");
    const person = fake.list("persons")[0];
    const cohort = fake.list("cohorts")[0];
    fake.remove("persons", person.id);
    fake.remove("cohorts", cohort.id);
    const refresh = await runner.sync({ fullRefresh: true });
    expect(failures(refresh.result)).toBe("");
    expect(await runner.deletedKeys("persons")).toEqual([String(person.id)]);
    expect(await runner.deletedKeys("cohorts")).toEqual([String(cohort.id)]);
  });

  it("passes the conformance kit, incremental check included", async () => {
    fake = await startPostHogFake({ events: 30, persons: 8 });
    const f = fake;
    const report = await checkConnector({
      connector: PostHogConnector,
      config: configOf(f),
      badConfig: configOf(f, { api_key: "phx_wrong" }),
      settings: SETTINGS,
      changeSource: async () => {
        f.addEvents(4);
        f.update("insights", f.list("insights")[0].id, { name: "Changed insight" });
      },
    });
    expect(report.firstFailure).toBeUndefined();
    expect(report.ok).toBe(true);
  });

  it("rides out PostHog's 429 throttling (Retry-After) and finishes", async () => {
    fake = await startPostHogFake({ events: 12, rateLimit: { limit: 2, windowSeconds: 1 } });
    runner = new SyncRunner(PostHogConnector, configOf(fake), { ...SETTINGS, maxRetries: 6 });
    const { result } = await runner.sync({ entities: ["events", "persons"] });
    expect(failures(result)).toBe("");
    expect(fake.stats.rateLimited).toBeGreaterThan(0);
    expect((await runner.rows("events")).length).toBe(12);
  });

  describe("bad input gives one clear line naming connector, entity and cause", () => {
    it("wrong key, wrong project id, unreachable host, bad project_id in config", async () => {
      const f = (fake = await startPostHogFake({ events: 3 }));
      const test = (config: Record<string, unknown>) => new PostHogConnector({ name: "p", config: config as never, settings: { maxRetries: 0 } }).testConnection();
      expect((await test(configOf(f))).message).toBe(`Connected to PostHog project ${f.projectId} (Mako fake project)`);
      const badKey = await test(configOf(f, { api_key: "phx_nope" }));
      expect(badKey.message).toMatch(/^API key rejected: .*HTTP 401.*Personal API key found in request Authorization header is invalid/);
      expect(badKey.message).not.toContain("phx_nope");
      expect((await test(configOf(f, { project_id: "999" }))).message).toMatch(/^project 999 not found at 127\.0\.0\.1:\d+ \(check project_id/);
      expect((await test(configOf(f, { base_url: "http://127.0.0.1:9" }))).message).toMatch(/^cannot reach 127\.0\.0\.1:9/);
      // Parsed on first use: building the connector with a bad config does not throw.
      const badProject = new PostHogConnector({ name: "p", config: configOf(f, { project_id: "my-project" }) as never, settings: {} });
      expect(await badProject.testConnection()).toEqual({ success: false, message: "posthog: invalid config: project_id: project_id must be the numeric project id" });
      runner = new SyncRunner(PostHogConnector, configOf(fake, { project_id: "999" }), SETTINGS);
      const { result } = await runner.sync({ entities: ["events"] });
      expect(result.entities[0].error).toMatch(/^posthog: entity "events": project 999 not found/);
      expect(result.entities[0].chunkRetries).toBe(0);
    });

    it("a key revoked mid-sync fails with the checkpoint intact", async () => {
      fake = await startPostHogFake({ events: 40 });
      const f = fake;
      runner = new SyncRunner(PostHogConnector, configOf(f), { ...SETTINGS, maxIterations: 1 });
      const { result } = await runner.sync({
        entities: ["events"],
        onEvent: (e) => {
          if (e.type === "progress" && e.committed > 0) f.revokeKey();
        },
      });
      expect(result.entities[0].error).toMatch(/^posthog: entity "events": API key rejected \(POST .*\/query\/.*HTTP 401/);
      const checkpoint = await runner.checkpoint("events");
      expect(checkpoint?.fetchState?.metadata?.after?.uuid).toEqual(expect.any(String));
    });

    it("a vendor error body, an unexpected page shape, an unknown entity", async () => {
      fake = await startPostHogFake({ events: 3 });
      runner = new SyncRunner(PostHogConnector, configOf(fake), SETTINGS);
      fake.injectFault({ path: "/query/", status: 400, body: { type: "validation_error", code: "query_error", detail: "Unable to resolve field: elements_chain", attr: null } });
      fake.injectFault({ path: "/cohorts/", status: 200, body: { next: null, results: "nope" } });
      const { result } = await runner.sync({ entities: ["events", "cohorts"] });
      const byName = Object.fromEntries(result.entities.map((e) => [e.entity, e.error]));
      expect(byName.events).toMatch(/^posthog: entity "events": POST .*HTTP 400.*Unable to resolve field: elements_chain/);
      expect(byName.cohorts).toBe(`posthog: entity "cohorts": unexpected page from GET /api/projects/${fake!.projectId}/cohorts/: "results" is not an array`);
      await expect(runner.sync({ entities: ["sessions"] })).rejects.toThrow(/unknown entity "sessions" for connector PostHog/);
    });
  });
});
