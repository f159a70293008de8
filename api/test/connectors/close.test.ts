import { afterEach, describe, expect, it } from "vitest";
import { startCloseFake, type CloseFake, type CloseKind } from "../../../bench/fakes/close";
import { CloseConnector } from "../../src/connectors/close";
import { checkConnector } from "../../src/conformance";
import { failures, SyncRunner } from "./syncRunner";

const SETTINGS = { batchSize: 4, maxIterations: 2, maxRetries: 1, requestsPerSecond: 1000, burst: 1000 };
const KINDS: Record<string, CloseKind> = {
  leads: "lead",
  contacts: "contact",
  opportunities: "opportunity",
  users: "user",
  activities_call: "activity.call",
  activities_email: "activity.email",
  activities_note: "activity.note",
  activities_meeting: "activity.meeting",
  activities_sms: "activity.sms",
};

let fake: CloseFake | undefined;
let runner: SyncRunner | undefined;
afterEach(async () => {
  await runner?.close();
  await fake?.close();
  runner = fake = undefined;
});

const configOf = (f: CloseFake, key = f.apiKey) => ({ api_key: key, base_url: `${f.url}/api/v1` });

async function expectDestinationEqualsFake(r: SyncRunner, f: CloseFake) {
  for (const [entity, kind] of Object.entries(KINDS)) {
    const live = await r.live(entity);
    const truth = f.list(kind);
    expect([...live.keys()].sort(), entity).toEqual(truth.map((o) => o.id).sort());
    for (const o of truth) expect(live.get(o.id)!.date_updated, `${entity} ${o.id}`).toBe(o.date_updated);
    if (entity !== "users") expect(await r.deletedKeys(entity), `${entity} deletions`).toEqual(f.deletedIds(kind).sort());
  }
  const fields = await r.live("custom_fields");
  const truth = (["lead", "contact", "opportunity"] as const).flatMap((t) => f.list(`custom_field.${t}`).map((o) => [o.id, t]));
  expect([...fields.values()].map((o) => [o.id, o.object_type]).sort()).toEqual(truth.sort());
}

describe("close connector against the local Close fake", () => {
  it("syncs every entity, each activity sub-type in its own table, then catches creates, updates and deletes incrementally", async () => {
    fake = await startCloseFake({ leads: 8 });
    runner = new SyncRunner(CloseConnector, configOf(fake), SETTINGS);
    const first = await runner.sync();
    expect(failures(first.result)).toBe("");
    await expectDestinationEqualsFake(runner, fake);
    for (const e of first.result.entities) expect(e.records, e.entity).toBeGreaterThan(0);
    // Sub-types stay apart: every call row is a Call, with a call's fields.
    const calls = await runner.rows("activities_call");
    expect(new Set(calls.map((c) => c._type))).toEqual(new Set(["Call"]));
    expect(calls[0]).toHaveProperty("duration");
    const emails = await runner.rows("activities_email");
    expect(emails.every((e) => e._type === "Email" && typeof e.subject === "string")).toBe(true);

    const [lead, gone] = fake.list("lead");
    fake.update("lead", lead.id, { name: "Renamed lead" });
    fake.remove("lead", gone.id);
    const newLead = fake.create("lead", { name: "Fresh lead" });
    fake.update("contact", fake.list("contact")[3].id, { title: "VP" });
    fake.remove("activity.call", fake.list("activity.call")[0].id);
    const note = fake.create("activity.note", { lead_id: newLead.id, note: "first touch" });
    fake.update("activity.note", note.id, { note: "second touch" });
    fake.remove("opportunity", fake.list("opportunity")[1].id);

    const second = await runner.sync();
    expect(failures(second.result)).toBe("");
    await expectDestinationEqualsFake(runner, fake);
    const leads = await runner.live("leads");
    expect(leads.get(lead.id)?.name).toBe("Renamed lead");
    expect((await runner.live("activities_note")).get(note.id)?.note).toBe("second touch");
    // Deleted rows keep their last known values, marked deleted.
    const deletedLead = (await runner.rows("leads")).find((r) => r.id === gone.id)!;
    expect(deletedLead.name).toBe(gone.name);
    expect(typeof deletedLead._mako_deleted_at).toBe("string");
    const incrementalRecords = second.result.entities.filter((e) => e.entity !== "users" && e.entity !== "custom_fields").reduce((n, e) => n + e.records, 0);
    expect(incrementalRecords).toBeLessThan(20);
  });

  it("ends exact against a Close that ignores what it does not document, many pages deep and past the _skip cap", async () => {
    fake = await startCloseFake({ leads: 30, maxSkip: 8 });
    const f = fake;
    // What Close's documentation does not list, the fake (like Close) ignores instead of honouring.
    const get = async (path: string) => {
      const res = await fetch(`${f.url}/api/v1/${path}`, { headers: { authorization: `Basic ${Buffer.from(`${f.apiKey}:`).toString("base64")}` } });
      return ((await res.json()) as { data: { id: string }[] }).data.map((o) => o.id);
    };
    const future = new Date(Date.now() + 86_400_000).toISOString();
    expect(await get(`lead/?query=${encodeURIComponent(`date_updated >= "${future}" sort:date_updated`)}&_limit=10`)).toEqual(await get("lead/?_limit=10"));
    expect(await get(`contact/?date_updated__gte=${future}&_order_by=date_updated&_limit=10`)).toEqual(await get("contact/?_limit=10"));
    expect(await get(`activity/call/?date_updated__gte=${future}&_order_by=date_updated&_limit=10`)).toEqual(await get("activity/call/?_limit=10"));
    expect(await get(`opportunity/?date_updated__gte=${future}`)).toEqual([]);

    runner = new SyncRunner(CloseConnector, configOf(fake), { ...SETTINGS, batchSize: 5 });
    const first = await runner.sync();
    expect(failures(first.result)).toBe("");
    await expectDestinationEqualsFake(runner, fake);
    expect((await runner.live("leads")).size).toBe(30);
    // Custom field values come through the search's _fields.
    const lead = fake.list("lead")[4];
    const customKeys = Object.keys(lead).filter((k) => k.startsWith("custom."));
    expect(customKeys.length).toBeGreaterThan(0);
    for (const k of customKeys) expect((await runner.live("leads")).get(lead.id)![k]).toBe(lead[k]);

    fake.update("lead", lead.id, { name: "Edited" });
    fake.update("contact", fake.list("contact")[20].id, { title: "CFO" });
    fake.update("activity.call", fake.list("activity.call")[25].id, { note: "called back" });
    fake.update("opportunity", fake.list("opportunity")[27].id, { note: "closing" });
    const second = await runner.sync();
    expect(failures(second.result)).toBe("");
    await expectDestinationEqualsFake(runner, fake);
    for (const entity of ["leads", "contacts", "activities_call", "opportunities"]) {
      expect(second.result.entities.find((e) => e.entity === entity)!.records, entity).toBe(1);
    }
  });

  it("a lead deleted during a first sync, after the sync read it, is marked deleted by the next incremental run", async () => {
    fake = await startCloseFake({ leads: 20 });
    const f = fake;
    runner = new SyncRunner(CloseConnector, configOf(f), SETTINGS);
    let gone: string | undefined;
    let edited: string | undefined;
    const first = await runner.sync({
      entities: ["leads"],
      onEvent: (e) => {
        if (gone || e.type !== "progress" || e.committed === 0) return;
        // The least recently updated lead is the first one read.
        const [oldest, ...others] = [...f.list("lead")].sort((a, b) => (a.date_updated < b.date_updated ? -1 : 1));
        gone = oldest.id;
        f.remove("lead", oldest.id);
        edited = others[3].id;
        f.update("lead", edited, { name: "Edited after the deletion" });
      },
    });
    expect(failures(first.result)).toBe("");
    expect(gone).toBeDefined();
    expect((await runner.live("leads")).has(gone!)).toBe(true); // read before it was deleted
    const second = await runner.sync({ entities: ["leads"] });
    expect(failures(second.result)).toBe("");
    expect(await runner.deletedKeys("leads")).toEqual([gone]);
    expect((await runner.live("leads")).get(edited!)?.name).toBe("Edited after the deletion");
    expect([...(await runner.live("leads")).keys()].sort()).toEqual(f.list("lead").map((l) => l.id).sort());
  });

  it("a lead deleted during a full refresh, after the refresh read it, is marked deleted by the next incremental run", async () => {
    fake = await startCloseFake({ leads: 20 });
    const f = fake;
    runner = new SyncRunner(CloseConnector, configOf(f), SETTINGS);
    expect(failures((await runner.sync({ entities: ["leads"] })).result)).toBe("");
    let gone: string | undefined;
    const refresh = await runner.sync({
      entities: ["leads"],
      fullRefresh: true,
      onEvent: (e) => {
        if (gone || e.type !== "progress" || e.committed === 0) return;
        const [oldest, ...others] = [...f.list("lead")].sort((a, b) => (a.date_updated < b.date_updated ? -1 : 1));
        gone = oldest.id;
        f.remove("lead", oldest.id);
        f.update("lead", others[5].id, { name: "Edited after the deletion" });
      },
    });
    expect(failures(refresh.result)).toBe("");
    expect(gone).toBeDefined();
    expect(await runner.deletedKeys("leads")).toEqual([]);
    expect(failures((await runner.sync({ entities: ["leads"] })).result)).toBe("");
    expect(await runner.deletedKeys("leads")).toEqual([gone]);
  });

  it("a search cursor Close no longer takes does not wedge the entity: the search starts again from the last date_updated read", async () => {
    fake = await startCloseFake({ leads: 30 });
    runner = new SyncRunner(CloseConnector, configOf(fake), { ...SETTINGS, batchSize: 5 });
    // The fourth search request is the third to carry a cursor.
    fake.injectFault({ path: "/api/v1/data/search/", status: 400, after: 3, body: { error: "Invalid cursor", errors: [], "field-errors": {} } });
    const { result, logs } = await runner.sync({ entities: ["leads"] });
    expect(failures(result)).toBe("");
    expect(logs.join("\n")).toMatch(/Close refused the search cursor \(.*Invalid cursor.*\): searching again from date_updated \d{4}-/);
    expect([...(await runner.live("leads")).keys()].sort()).toEqual(fake.list("lead").map((l) => l.id).sort());
  });

  it("judges the 30-day event log on Close's clock (its Date header)", async () => {
    fake = await startCloseFake({ leads: 3 });
    runner = new SyncRunner(CloseConnector, configOf(fake), SETTINGS);
    expect(failures((await runner.sync({ entities: ["leads"] })).result)).toBe("");
    fake.advanceClock(31 * 86_400);
    const later = await runner.sync({ entities: ["leads"] });
    expect(failures(later.result)).toBe("");
    expect(later.logs.join("\n")).toMatch(/older than Close's 30-day event log/);
    // The mark is Close's clock at the start of that run: a month ahead of this machine's.
    const mark = (await runner.checkpoint("leads"))?.highWaterMark;
    expect(Date.parse(String(mark))).toBeGreaterThan(Date.now() + 30 * 86_400_000);
  });

  it("honours the RateLimit header and 429 rate_reset, and syncs everything", async () => {
    fake = await startCloseFake({ leads: 6, rateLimit: { limit: 5, windowSeconds: 1 } });
    runner = new SyncRunner(CloseConnector, configOf(fake), { ...SETTINGS, maxRetries: 6 });
    const { result } = await runner.sync({ entities: ["leads", "contacts", "activities_call"] });
    expect(failures(result)).toBe("");
    expect((await runner.live("leads")).size).toBe(6);
    // The header says when the window is used up, so the client waits instead of walking into 429s.
    expect(fake.stats.rateLimited).toBeLessThanOrEqual(2);
    expect(result.stats.waitMs).toBeGreaterThan(0);
  });

  it("passes the conformance kit, incremental check included", async () => {
    fake = await startCloseFake({ leads: 5 });
    const f = fake;
    const report = await checkConnector({
      connector: CloseConnector,
      config: configOf(f),
      badConfig: configOf(f, "api_wrong"),
      settings: SETTINGS,
      changeSource: async () => {
        const [a, b] = f.list("lead");
        f.update("lead", a.id, { name: "Changed" });
        f.remove("lead", b.id);
        f.create("activity.sms", { lead_id: a.id });
        f.remove("activity.email", f.list("activity.email")[0].id);
      },
    });
    expect(report.firstFailure).toBeUndefined();
    expect(report.ok).toBe(true);
  });

  describe("bad input gives one clear line naming connector, entity and cause", () => {
    it("wrong key, unreachable host", async () => {
      fake = await startCloseFake({ leads: 2 });
      const test = await new CloseConnector({ name: "c", config: configOf(fake, "api_nope"), settings: SETTINGS }).testConnection();
      expect(test.success).toBe(false);
      expect(test.message).toMatch(/^API key rejected: .*HTTP 401.*invalid or has been revoked/);
      expect(test.message).not.toContain("api_nope");
      const down = await new CloseConnector({ name: "c", config: { api_key: "k", base_url: "http://127.0.0.1:9/api/v1" }, settings: { maxRetries: 0 } }).testConnection();
      expect(down.message).toMatch(/^cannot reach 127\.0\.0\.1:9/);
      expect((await new CloseConnector({ name: "c", config: configOf(fake), settings: SETTINGS }).testConnection()).message).toBe("Connected to Close (Mako Fake Org)");
    });

    it("a key revoked mid-sync fails the entity with its checkpoint intact", async () => {
      fake = await startCloseFake({ leads: 20 });
      const f = fake;
      runner = new SyncRunner(CloseConnector, configOf(f), SETTINGS);
      const { result } = await runner.sync({
        entities: ["leads"],
        onEvent: (e) => {
          if (e.type === "progress" && e.committed > 0) f.revokeKey();
        },
      });
      expect(result.entities[0].error).toMatch(/^close: entity "leads": API key rejected \((GET|POST) .*HTTP 401/);
      expect((await runner.checkpoint("leads"))?.fetchState?.hasMore).toBe(true);
      expect((await runner.rows("leads")).length).toBeGreaterThan(0);
    });

    it("a vendor error body, a page of unexpected shape, an unknown entity", async () => {
      fake = await startCloseFake({ leads: 2 });
      runner = new SyncRunner(CloseConnector, configOf(fake), SETTINGS);
      fake.injectFault({ path: "/api/v1/data/search/", status: 400, body: { error: "query.queries[1].condition: invalid moment", errors: [], "field-errors": {} } });
      fake.injectFault({ path: "/api/v1/opportunity/", status: 200, body: [{ id: "oppo_1" }] });
      const { result } = await runner.sync({ entities: ["contacts", "opportunities"] });
      const byName = Object.fromEntries(result.entities.map((e) => [e.entity, e.error]));
      expect(byName.contacts).toMatch(/^close: entity "contacts": POST .*\/data\/search\/.* HTTP 400.*invalid moment/);
      expect(byName.opportunities).toBe(`close: entity "opportunities": unexpected page from GET opportunity/: expected {data, has_more}, got an array`);
      await expect(runner.sync({ entities: ["activities"] })).rejects.toThrow(/unknown entity "activities" for connector Close/);
    });
  });
});
