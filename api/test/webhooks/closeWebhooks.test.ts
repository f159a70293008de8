// Close's webhooks into a real `mako serve`, delivered by the Close fake as Close does.
import { afterEach, describe, expect, it } from "vitest";
import { closeSignature, startCloseFake, type CloseFake } from "../../../bench/fakes/close";
import { CloseConnector } from "../../src/connectors/close";
import { closeMicros } from "../../src/connectors/close/objects";
import { CLOSE_WEBHOOK_EVENTS } from "../../src/connectors/close/webhooks";
import { drainEntity } from "../connectors/drainEntity";
import { post, QUICK_RETRY, replayHeaders, serveMako, SIGNED_HEADERS, startTap, type Served } from "./harness";

let fake: CloseFake | undefined;
let served: Served | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await fake?.close();
  await served?.close();
  fake = served = undefined;
});

const now = () => Math.floor(Date.now() / 1000);

/** A Close source on a served Mako, subscribed to every pair the connector asks for, through a tap. */
async function setup(options: { consolidationMs?: number; retry?: typeof QUICK_RETRY } = {}) {
  fake = await startCloseFake({ leads: 4, rateLimit: false });
  served = await serveMako();
  const hook = `${served.server.url}/hooks/crm`;
  const tap = await startTap(hook);
  cleanups.push(tap.close);
  const events = CLOSE_WEBHOOK_EVENTS.map((e) => {
    const at = e.lastIndexOf(".");
    return { object_type: e.slice(0, at), action: e.slice(at + 1) as "created" | "updated" | "deleted" };
  });
  const sub = fake.subscribeWebhook({ url: tap.url, events, retry: options.retry ?? QUICK_RETRY, consolidationMs: options.consolidationMs ?? 0 });
  const config = { api_key: fake.apiKey, base_url: `${fake.url}/api/v1` };
  await served.mako.sources.add({ name: "crm", connector: "close", config: { ...config, webhook_signature_key: sub.signature_key } });
  return { hook, tap, sub, connector: () => new CloseConnector({ name: "crm", connector: "close", config, settings: { requestsPerSecond: 1000, burst: 1000 } }) };
}

describe("Close webhooks → inbox", () => {
  it("stores every change as its own event (keyed on the event's id), in the shape and with the columns the pull writes", async () => {
    const { connector } = await setup();
    const f = fake!;
    const s = served!;
    const [lead] = f.list("lead");
    // Three updates of one lead, each delivered on its own.
    for (const name of ["One", "Two", "Three"]) {
      f.update("lead", lead.id, { name });
      await f.webhooksSettled();
    }
    const [contact] = f.list("contact");
    f.update("contact", contact.id, { title: "CFO" });
    const [call] = f.list("activity.call");
    f.update("activity.call", call.id, { duration: 61 });
    const [opportunity] = f.list("opportunity");
    f.update("opportunity", opportunity.id, { confidence: 99 });
    const mark = new Date(f.now()).toISOString();
    const [doomed] = f.list("contact").filter((c) => c.id !== contact.id);
    f.remove("contact", doomed.id);
    await f.webhooksSettled();
    expect(f.webhookDeliveries().every((d) => d.state === "delivered" && d.attempts.length === 1)).toBe(true);

    const rows = s.inbox("crm");
    const leadRows = rows.filter((r) => r.objectId === lead.id);
    expect(leadRows.map((r) => [r.eventType, r.record!.name])).toEqual([
      ["lead.updated", "One"],
      ["lead.updated", "Two"],
      ["lead.updated", "Three"],
    ]);
    expect(new Set(leadRows.map((r) => r.eventId)).size).toBe(3);
    const truth = f.list("lead").find((l) => l.id === lead.id)!;
    expect(leadRows[2].version).toBe(closeMicros(truth.date_updated));
    expect(leadRows[0].version! < leadRows[1].version! && leadRows[1].version! < leadRows[2].version!).toBe(true);

    // Exactly the record the pull writes for the same object: same fields (custom ones included), same values.
    const pulled = async (entity: string, id: string, since?: string) => (await drainEntity(connector(), entity, { since, batchSize: 100 })).records.find((r) => r.id === id);
    expect(leadRows[2]).toMatchObject({ entity: "leads", deleted: false });
    expect(leadRows[2].record).toEqual(await pulled("leads", lead.id));
    expect(Object.keys(leadRows[2].record!).some((k) => k.startsWith("custom."))).toBe(true);
    const latest = (objectId: string) => rows.filter((r) => r.objectId === objectId).at(-1)!;
    expect(latest(contact.id)).toMatchObject({ entity: "contacts", record: await pulled("contacts", contact.id) });
    expect(latest(call.id)).toMatchObject({ entity: "activities_call", record: await pulled("activities_call", call.id) });
    expect(latest(opportunity.id)).toMatchObject({ entity: "opportunities", record: await pulled("opportunities", opportunity.id) });

    // A deletion: the row the pull's event-log read leaves, ranked at the deletion.
    const deletion = latest(doomed.id);
    expect(deletion).toMatchObject({ entity: "contacts", eventType: "contact.deleted", deleted: true });
    // Stored as JSON: the pull's deletion mark (markDeleted's Symbol) is not part of the stored row.
    expect(deletion.record).toEqual(JSON.parse(JSON.stringify(await pulled("contacts", doomed.id, mark))));
    expect(deletion.record!._mako_deleted_at).toBe(new Date(deletion.version! / 1000).toISOString());
    expect(deletion.version!).toBeGreaterThan(closeMicros(doomed.date_updated));
  });

  it("gets one delivery for changes inside Close's consolidation delay: the last one", async () => {
    await setup({ consolidationMs: 300 });
    const f = fake!;
    const [contact] = f.list("contact");
    f.update("contact", contact.id, { title: "First" });
    f.update("contact", contact.id, { title: "Second" });
    await f.webhooksSettled();
    const rows = served!.inbox("crm").filter((r) => r.objectId === contact.id);
    expect(rows.map((r) => r.record!.title)).toEqual(["Second"]);
    const logged = f.events().filter((e) => e.object_id === contact.id && e.action === "updated");
    expect(logged.length).toBe(2);
    expect(rows[0].eventId).toBe(logged[1].id);
  });

  it("refuses altered, replayed and unsigned deliveries with a 400, storing nothing; five copies of a good one are stored once", async () => {
    const { hook, tap, sub } = await setup({ retry: { ...QUICK_RETRY, giveUpAfterMs: 1500 } });
    const f = fake!;
    tap.swallow = true;
    const [lead] = f.list("lead");
    f.update("lead", lead.id, { name: "Held" });
    await f.webhooksSettled();
    tap.swallow = false;
    const held = tap.received.at(-1)!;
    const body = held.body;
    const headers = replayHeaders(held.headers, SIGNED_HEADERS);
    const altered = body.replace('"name":"Held"', '"name":"Held!"');
    expect(altered).not.toBe(body);
    const resign = (t: number, b = body, key = sub.signature_key) => ({ "content-type": "application/json", "close-sig-timestamp": String(t), "close-sig-hash": closeSignature(key, t, b) });
    const refusals: [string, { status: number; json: any }][] = [
      ["altered body", await post(hook, altered, headers)],
      ["altered hash", await post(hook, body, { ...headers, "close-sig-hash": headers["close-sig-hash"].replace(/^./, (c) => (c === "0" ? "1" : "0")) })],
      ["timestamp changed", await post(hook, body, { ...headers, "close-sig-timestamp": String(Number(headers["close-sig-timestamp"]) + 1) })],
      ["no signature", await post(hook, body, { "content-type": "application/json" })],
      ["replayed 6 minutes later", await post(hook, body, resign(now() - 360))],
      ["6 minutes ahead", await post(hook, body, resign(now() + 360))],
      ["another subscription's key", await post(hook, body, resign(now(), body, "ab".repeat(32)))],
      ["signed, not an event", await post(hook, "{}", resign(now(), "{}"))],
    ];
    for (const [what, answer] of refusals) expect(answer.status, what).toBe(400);
    expect(refusals[0][1].json.error).toMatch(/close-sig-hash does not match webhook_signature_key/);
    expect(refusals[3][1].json.error).toBe("missing close-sig-hash or close-sig-timestamp header");
    expect(refusals[4][1].json.error).toMatch(/36\d s old \(tolerance 300 s\)/);
    expect(refusals[7][1].json.error).toMatch(/not a Close webhook event: event/);
    expect(served!.inbox("crm")).toEqual([]);

    const copies = await Promise.all(Array.from({ length: 5 }, () => post(hook, body, headers)));
    expect(copies.map((c) => c.status)).toEqual([200, 200, 200, 200, 200]);
    expect(served!.inbox("crm").map((r) => r.record!.name)).toEqual(["Held"]);

    // Close's clock 10 minutes ahead of this server: every attempt refused, then dropped.
    f.advanceClock(600);
    f.update("lead", lead.id, { name: "Skewed" });
    await f.webhooksSettled();
    const skewed = f.webhookDeliveries().at(-1)!;
    expect(skewed.state).toBe("dropped");
    expect(new Set(skewed.attempts.map((a) => a.status))).toEqual(new Set([400]));
    expect(served!.inbox("crm").length).toBe(1);
  });

  it("stores an event about nothing synced (a task) as already applied", async () => {
    const { hook, sub } = await setup();
    const t = now();
    const body = JSON.stringify({
      event: { id: "ev_task_1", object_type: "task", object_id: "task_1", action: "created", date_created: "2024-01-15T12:48:23.395000", data: { id: "task_1" }, previous_data: null },
      subscription_id: sub.id,
    });
    const answer = await post(hook, body, { "close-sig-timestamp": String(t), "close-sig-hash": closeSignature(sub.signature_key, t, body) });
    expect(answer).toEqual({ status: 200, json: { received: "ev_task_1", duplicate: false } });
    const [row] = served!.inbox("crm");
    expect(row).toMatchObject({ eventType: "task.created", entity: null, record: null });
    expect(row.appliedAt).toBe(row.receivedAt);
  });

  it("reduces a lead's data to the pull's fields: what Close embeds (contacts, tasks, the custom map) stays out", async () => {
    const { hook, sub } = await setup();
    const t = now();
    const data = {
      id: "lead_rich",
      name: "Rich lead",
      display_name: "Rich lead",
      date_updated: "2024-01-15T12:48:23.392000+00:00",
      "custom.cf_tier": "gold",
      custom: { Tier: "gold" },
      contacts: [{ id: "cont_1", name: "Ada" }],
      opportunities: [],
      tasks: [],
    };
    const body = JSON.stringify({
      event: { id: "ev_rich", object_type: "lead", object_id: "lead_rich", action: "updated", date_created: "2024-01-15T12:48:23.395000", date_updated: "2024-01-15T12:48:23.395000", data, previous_data: { name: "Old" } },
      subscription_id: sub.id,
    });
    expect((await post(hook, body, { "close-sig-timestamp": String(t), "close-sig-hash": closeSignature(sub.signature_key, t, body) })).status).toBe(200);
    const [row] = served!.inbox("crm");
    expect(row).toMatchObject({ entity: "leads", objectId: "lead_rich", version: Date.UTC(2024, 0, 15, 12, 48, 23) * 1000 + 392_000 });
    expect(row.record).toEqual({ id: "lead_rich", name: "Rich lead", display_name: "Rich lead", date_updated: data.date_updated, "custom.cf_tier": "gold" });
  });
});
