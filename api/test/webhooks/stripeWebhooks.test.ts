// Stripe's webhooks into a real `mako serve`, delivered by the Stripe fake as Stripe does.
import { afterEach, describe, expect, it } from "vitest";
import { startStripeFake, stripeSignatureHeader, type StripeFake } from "../../../bench/fakes/stripe";
import { post, QUICK_RETRY, replayHeaders, serveMako, SIGNED_HEADERS, startTap, type Served } from "./harness";

let fake: StripeFake | undefined;
let served: Served | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await fake?.close();
  await served?.close();
  fake = served = undefined;
});

const now = () => Math.floor(Date.now() / 1000);

/** A Stripe source on a served Mako, its endpoint registered with the fake through a tap. */
async function setup(retry = QUICK_RETRY) {
  fake = await startStripeFake({ counts: { customers: 2, products: 2, prices: 2, payment_intents: 1, charges: 1, refunds: 1, subscriptions: 2, invoices: 1 } });
  // The intake alone (pending events stay pending): apply.test.ts covers applying them.
  served = await serveMako({ applyWebhooks: false });
  const hook = `${served.server.url}/hooks/shop`;
  const tap = await startTap(hook);
  cleanups.push(tap.close);
  const endpoint = fake.addWebhookEndpoint({ url: tap.url, retry });
  await served.mako.sources.add({ name: "shop", connector: "stripe", config: { api_key: fake.apiKey, base_url: fake.url, webhook_secret: endpoint.secret } });
  return { hook, endpoint, tap };
}

/** A genuine delivery of a new customer, held back from Mako (to replay, alter or duplicate). */
async function heldDelivery(f: StripeFake, tap: Awaited<ReturnType<typeof startTap>>) {
  tap.swallow = true;
  const customer = f.create("customers", { name: "Held Customer" });
  await f.webhooksSettled();
  tap.swallow = false;
  const delivery = tap.received.find((r) => r.body.includes(customer.id))!;
  return { body: delivery.body, headers: replayHeaders(delivery.headers, SIGNED_HEADERS), customer };
}

describe("Stripe webhooks → inbox", () => {
  it("stores each delivered event once, with the row the list endpoint gives and its version, before answering 200", async () => {
    await setup();
    const f = fake!;
    const s = served!;
    const customer = f.create("customers", { name: "Webhook Customer" });
    f.update("customers", customer.id, { name: "Renamed Customer" });
    const [gone] = f.list("customers").filter((c) => c.id !== customer.id);
    f.remove("customers", gone.id);
    const product = f.create("products", { name: "Webhook Product" });
    const [subscription] = f.list("subscriptions");
    f.remove("subscriptions", subscription.id); // a cancellation, not a deletion
    const [charge] = f.list("charges");
    f.create("refunds", { charge: charge.id });
    await f.webhooksSettled();

    const sent = f.events().filter((e) => f.webhookDeliveries().some((d) => d.eventId === e.id));
    expect(sent.length).toBe(6);
    for (const d of f.webhookDeliveries()) expect(d.attempts.map((a) => a.status), d.eventId).toEqual([200]);

    const rows = new Map(s.inbox("shop").map((r) => [r.eventId, r]));
    expect(rows.size).toBe(sent.length);
    for (const event of sent) {
      const row = rows.get(event.id)!;
      expect(row, event.type).toMatchObject({ eventType: event.type, objectId: event.data.object.id, version: (event.created + 1) * 1_000_000 - 1, appliedAt: null });
      expect(Date.parse(row.receivedAt)).toBeGreaterThan(0);
    }
    const byType = (type: string) => sent.filter((e) => e.type === type).map((e) => rows.get(e.id)!);
    // The record is data.object: what the list endpoint gives for the object now.
    const [renamed] = byType("customer.updated");
    expect(renamed.entity).toBe("customers");
    expect(renamed.record).toEqual(f.list("customers").find((c) => c.id === customer.id));
    expect(renamed.version).toBeGreaterThan(byType("customer.created")[0].version!);
    const [deletion] = byType("customer.deleted");
    expect(deletion).toMatchObject({ entity: "customers", deleted: true, objectId: gone.id });
    expect(deletion.record!._mako_deleted_at).toBe(new Date(Math.floor(deletion.version! / 1_000_000) * 1000).toISOString());
    expect(byType("product.created")[0]).toMatchObject({ entity: "products", record: f.list("products").find((p) => p.id === product.id) });
    const [cancel] = byType("customer.subscription.deleted");
    expect(cancel).toMatchObject({ entity: "subscriptions", deleted: false });
    expect(cancel.record).toMatchObject({ status: "canceled" });
    expect(cancel.record).not.toHaveProperty("_mako_deleted_at");
    expect(byType("refund.created")[0].entity).toBe("refunds");

    const setupView = await (await fetch(`${s.server.url}/api/sources/shop/webhook`)).json();
    expect(setupView).toMatchObject({ supported: true, secretField: "webhook_secret", secretSet: true, url: `${s.server.url}/hooks/shop`, pending: 6 });
    expect(setupView.lastEventAt).toBe(s.inbox("shop").at(-1)!.receivedAt);
    expect(setupView.subscribe).toEqual(expect.arrayContaining(["customer.updated", "customer.subscription.deleted", "charge.refund.updated"]));
  });

  it("refuses altered, replayed, unsigned and downgraded deliveries with a 400, storing nothing", async () => {
    const { hook, endpoint, tap } = await setup({ ...QUICK_RETRY, giveUpAfterMs: 1500 });
    const f = fake!;
    const { body, headers } = await heldDelivery(f, tap);
    const sig = headers["stripe-signature"];
    const altered = body.replace('"Held Customer"', '"Held Customer!"');
    expect(altered).not.toBe(body);
    const refusals: [string, { status: number; json: any }][] = [
      ["altered body", await post(hook, altered, headers)],
      ["altered signature", await post(hook, body, { ...headers, "stripe-signature": sig.replace(/v1=(.)/, (_, c) => `v1=${c === "0" ? "1" : "0"}`) })],
      ["no signature", await post(hook, body, { "content-type": "application/json" })],
      ["v0 only", await post(hook, body, { ...headers, "stripe-signature": sig.split(",").filter((p) => !p.startsWith("v1=")).join(",") })],
      ["replayed 6 minutes later", await post(hook, body, { ...headers, "stripe-signature": stripeSignatureHeader(now() - 360, body, [endpoint.secret]) })],
      ["timestamp 6 minutes ahead", await post(hook, body, { ...headers, "stripe-signature": stripeSignatureHeader(now() + 360, body, [endpoint.secret]) })],
      ["another endpoint's secret", await post(hook, body, { ...headers, "stripe-signature": stripeSignatureHeader(now(), body, ["whsec_notthisendpoint"]) })],
      ["signed, but not JSON", await post(hook, "not json", { "stripe-signature": stripeSignatureHeader(now(), "not json", [endpoint.secret]) })],
    ];
    for (const [what, answer] of refusals) expect(answer.status, what).toBe(400);
    expect(served!.inbox("shop")).toEqual([]);
    expect(refusals[0][1].json.error).toMatch(/matches no webhook_secret/);
    expect(refusals[2][1].json.error).toBe("missing Stripe-Signature header");
    expect(refusals[3][1].json.error).toBe("Stripe-Signature has no v1 signature");
    expect(refusals[4][1].json.error).toMatch(/timestamp is 36\d s old \(tolerance 300 s\)/);
    expect(refusals[5][1].json.error).toMatch(/(359|36\d) s ahead/);
    expect(refusals[7][1].json.error).toMatch(/not JSON/);
    // The delivery itself, unaltered, is good.
    expect((await post(hook, body, headers)).status).toBe(200);
    expect(served!.inbox("shop").length).toBe(1);

    // Stripe's clock (the delivery's timestamp) 10 minutes ahead of this server: every attempt refused, nothing stored.
    f.advanceClock(600);
    const late = f.create("customers", { name: "Skewed" });
    await f.webhooksSettled();
    const delivery = f.webhookDeliveries().find((d) => f.events().find((e) => e.id === d.eventId)?.data.object.id === late.id)!;
    expect(delivery.state).toBe("dropped");
    expect(new Set(delivery.attempts.map((a) => a.status))).toEqual(new Set([400]));
    expect(delivery.attempts.length).toBeGreaterThan(1);
    expect(served!.inbox("shop").length).toBe(1);
  });

  it("takes every secret during a rotation, and a delivery signed by any of them", async () => {
    const { endpoint, tap } = await setup();
    const f = fake!;
    const s = served!;
    // Rolled with a 1-hour overlap: deliveries carry a v1 for the old and the new secret.
    const rolled = f.rollWebhookSecret(endpoint.id, { expireOldInSeconds: 3600 });
    const first = f.create("customers", { name: "During rotation" });
    await f.webhooksSettled();
    expect(f.webhookDeliveries().every((d) => d.state === "delivered")).toBe(true);
    expect(s.inbox("shop").map((r) => r.objectId)).toEqual([first.id]);

    // The user moves to the new secret while the old one may still sign: both, space separated.
    const stored = await s.mako.sources.unredacted("shop");
    await s.mako.sources.update("shop", { config: { ...stored.config, webhook_secret: `${endpoint.secret} ${rolled}` } });
    const { body, headers } = await heldDelivery(f, tap);
    const hook = `${s.server.url}/hooks/shop`;
    const sign = (secrets: string[]) => ({ ...headers, "stripe-signature": stripeSignatureHeader(now(), body, secrets) });
    expect((await post(hook, body, sign([endpoint.secret]))).status).toBe(200);
    expect((await post(hook, body, sign([rolled]))).status).toBe(200);
    expect((await post(hook, body, sign(["whsec_third"]))).status).toBe(400);

    // Only the new one kept: a delivery signed by the old one alone is refused.
    await s.mako.sources.update("shop", { config: { ...stored.config, webhook_secret: [rolled] } });
    const other = (await heldDelivery(f, tap)).body;
    expect((await post(hook, other, { "stripe-signature": stripeSignatureHeader(now(), other, [endpoint.secret]) })).status).toBe(400);
    expect((await post(hook, other, { "stripe-signature": stripeSignatureHeader(now(), other, [endpoint.secret, rolled]) })).status).toBe(200);
    expect(s.inbox("shop").length).toBe(3);
  });

  it("stores an event delivered five times at once once, answering 200 to each", async () => {
    const { hook, tap } = await setup();
    const { body, headers, customer } = await heldDelivery(fake!, tap);
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(hook, body, headers)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    const rows = served!.inbox("shop").filter((r) => r.objectId === customer.id);
    expect(rows.length).toBe(1);
    expect(answers.every((a) => a.json.received === rows[0].eventId)).toBe(true);
  });

  it("stores an event about nothing synced as already applied", async () => {
    const { hook, endpoint } = await setup();
    const body = JSON.stringify({ id: "evt_coupon_1", object: "event", type: "coupon.created", created: now(), data: { object: { id: "co_1", object: "coupon" } } });
    const answer = await post(hook, body, { "content-type": "application/json", "stripe-signature": stripeSignatureHeader(now(), body, [endpoint.secret]) });
    expect(answer.status).toBe(200);
    const [row] = served!.inbox("shop");
    expect(row).toMatchObject({ eventId: "evt_coupon_1", entity: null, record: null });
    expect(row.appliedAt).toBe(row.receivedAt);
    expect((await served!.mako.store.inbox.summary("shop")).pending).toBe(0);
  });
});
