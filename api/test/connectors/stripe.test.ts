import { afterEach, describe, expect, it } from "vitest";
import { startStripeFake, type StripeFake, type StripeResource } from "../../../bench/fakes/stripe";
import { StripeConnector } from "../../src/connectors/stripe";
import { checkConnector } from "../../src/conformance";
import { drainEntity } from "./drainEntity";
import { failures, SyncRunner } from "./syncRunner";

const SETTINGS = { batchSize: 5, maxIterations: 2, maxRetries: 1, requestsPerSecond: 1000, burst: 1000 };
const LISTED: StripeResource[] = ["customers", "products", "prices", "subscriptions", "invoices", "charges", "payment_intents", "refunds", "balance_transactions"];

let fake: StripeFake | undefined;
let runner: SyncRunner | undefined;
afterEach(async () => {
  await runner?.close();
  await fake?.close();
  runner = fake = undefined;
});

const configOf = (f: StripeFake, key = f.apiKey) => ({ api_key: key, base_url: f.url });

async function expectDestinationEqualsFake(r: SyncRunner, f: StripeFake) {
  for (const resource of LISTED) {
    const live = await r.live(resource);
    const truth = f.list(resource);
    expect([...live.keys()].sort(), resource).toEqual(truth.map((o) => o.id).sort());
    for (const o of truth) {
      for (const field of ["name", "status", "email", "amount"]) {
        if (field in o) expect(live.get(o.id)![field], `${resource} ${o.id}.${field}`).toEqual(o[field]);
      }
    }
    expect(await r.deletedKeys(resource), `${resource} deletions`).toEqual(f.deletedIds(resource).sort());
  }
  expect((await r.rows("events")).length).toBe(f.events().length);
}

describe("stripe connector against the local Stripe fake", () => {
  it("syncs every entity, then an incremental run through the Events API catches creates, updates and deletes", async () => {
    fake = await startStripeFake({ seed: 7 });
    runner = new SyncRunner(StripeConnector, configOf(fake), SETTINGS);
    const first = await runner.sync();
    expect(failures(first.result)).toBe("");
    await expectDestinationEqualsFake(runner, fake);
    for (const e of first.result.entities) expect(e.records, e.entity).toBeGreaterThan(0);

    const [customer, other] = fake.list("customers");
    fake.update("customers", customer.id, { name: "Renamed Customer", email: "renamed@example.com" });
    fake.remove("customers", other.id);
    const created = fake.create("customers", { name: "Brand New" });
    fake.update("customers", created.id, { name: "Brand New, Updated" });
    const sub = fake.list("subscriptions")[0];
    fake.remove("subscriptions", sub.id); // a cancellation, not a deletion
    fake.create("charges", {});
    const product = fake.list("products")[2];
    fake.update("products", product.id, { name: "Old name" });
    fake.remove("products", product.id); // updated, then deleted: the deletion must win
    const refund = fake.list("refunds")[0];
    fake.update("refunds", refund.id, { status: "failed" });

    const requestsBefore = fake.stats.requests;
    const second = await runner.sync();
    expect(failures(second.result)).toBe("");
    await expectDestinationEqualsFake(runner, fake);
    const customers = await runner.live("customers");
    expect(customers.get(customer.id)?.name).toBe("Renamed Customer");
    expect(customers.get(created.id)?.name).toBe("Brand New, Updated");
    expect((await runner.live("subscriptions")).get(sub.id)?.status).toBe("canceled");
    expect(await runner.deletedKeys("products")).toEqual([product.id]);
    // Incremental: a handful of records, not the whole account again.
    const records = second.result.entities.reduce((n, e) => n + e.records, 0);
    expect(records).toBeLessThan(30);
    expect(fake.stats.requests - requestsBefore).toBeLessThan(first.result.stats.requests);
    expect(fake.stats.byRoute["GET /v1/customers"]).toBe(first.result.entities.find((e) => e.entity === "customers")!.chunks * 2 - 1);
  });

  it("falls back to a backfill, saying why, when the last event seen is past the 30-day retention", async () => {
    fake = await startStripeFake({ seed: 3 });
    runner = new SyncRunner(StripeConnector, configOf(fake), SETTINGS);
    expect(failures((await runner.sync({ entities: ["customers"] })).result)).toBe("");
    fake.advanceClock(31 * 86_400);
    const c = fake.list("customers")[1];
    fake.update("customers", c.id, { name: "After a month" });
    const second = await runner.sync({ entities: ["customers"] });
    expect(failures(second.result)).toBe("");
    expect(second.logs.join("\n")).toMatch(/older than Stripe's 30-day event retention: falling back to a backfill/);
    expect((await runner.live("customers")).get(c.id)?.name).toBe("After a month");
    expect(second.result.entities[0].records).toBe(fake.list("customers").length);
  });

  it("an account with no event at the first sync: creates, updates and deletes after it are caught by the next incremental run", async () => {
    fake = await startStripeFake({ seed: 11, counts: { customers: 8 } });
    fake.advanceClock(31 * 86_400); // every seeded object's event is past Stripe's 30-day retention
    expect(fake.events()).toHaveLength(0);
    runner = new SyncRunner(StripeConnector, configOf(fake), SETTINGS);
    expect(failures((await runner.sync()).result)).toBe("");
    await expectDestinationEqualsFake(runner, fake);

    const customers = fake.list("customers");
    const gone = customers.slice(0, 3).map((c) => c.id);
    for (const id of gone) fake.remove("customers", id);
    fake.update("customers", customers[3].id, { name: "Updated after" });
    const created = fake.create("customers", { name: "Created after" });
    fake.update("customers", created.id, { email: "created.after@example.com" });
    const product = fake.list("products")[0];
    fake.update("products", product.id, { name: "Renamed product" });

    const listReads = fake.stats.byRoute["GET /v1/customers"];
    const second = await runner.sync();
    expect(failures(second.result)).toBe("");
    await expectDestinationEqualsFake(runner, fake);
    expect(await runner.deletedKeys("customers")).toEqual([...gone].sort());
    expect((await runner.live("customers")).get(created.id)?.email).toBe("created.after@example.com");
    expect((await runner.live("products")).get(product.id)?.name).toBe("Renamed product");
    // Through the Events API, not by reading the lists again.
    expect(fake.stats.byRoute["GET /v1/customers"]).toBe(listReads);
    expect(second.logs.join("\n")).not.toMatch(/backfill|lists again/);

    // Nothing changed since: the next run reads nothing again.
    const third = await runner.sync({ entities: ["customers", "products"] });
    expect(third.result.entities.map((e) => e.records)).toEqual([0, 0]);
  });

  it("replays from a moment of Stripe's clock, chunk by chunk, oldest event first", async () => {
    fake = await startStripeFake({ counts: { customers: 4 } });
    fake.advanceClock(31 * 86_400);
    runner = new SyncRunner(StripeConnector, configOf(fake), SETTINGS);
    expect(failures((await runner.sync({ entities: ["customers"] })).result)).toBe("");
    // No event to point at: the mark is Stripe's clock when the lists were read.
    const mark = (await runner.checkpoint("customers"))?.highWaterMark;
    expect(mark).toBe(fake.now());
    const c = fake.create("customers", { name: "v0" });
    for (let i = 1; i <= 130; i++) fake.update("customers", c.id, { name: `v${i}` });
    const gone = fake.list("customers")[2].id;
    fake.remove("customers", gone);

    const connector = new StripeConnector({ name: "s", config: configOf(fake), settings: SETTINGS });
    const drained = await drainEntity(connector, "customers", { since: mark!, batchSize: 7, maxIterations: 1 });
    expect(drained.records.filter((r) => r.id === c.id).map((r) => r.name)).toEqual(Array.from({ length: 131 }, (_, i) => `v${i}`));
    expect(drained.records.filter((r) => r._mako_deleted_at !== undefined).map((r) => r.id)).toEqual([gone]);
    expect(drained.states.at(-1)!.metadata?.highWaterMark).toBe(fake.events()[0].id);
  });

  it("judges the 30-day event retention on Stripe's clock (its Date header), not the local one", async () => {
    // Stripe's clock is 40 days behind this machine's: its events are fresh for Stripe.
    fake = await startStripeFake({ seed: 4, now: Math.floor(Date.now() / 1000) - 40 * 86_400 });
    runner = new SyncRunner(StripeConnector, configOf(fake), SETTINGS);
    expect(failures((await runner.sync({ entities: ["customers"] })).result)).toBe("");
    const c = fake.list("customers")[2];
    fake.update("customers", c.id, { name: "Seen through an event" });
    const second = await runner.sync({ entities: ["customers"] });
    expect(failures(second.result)).toBe("");
    expect(second.logs.join("\n")).not.toMatch(/retention/);
    expect(second.result.entities[0].records).toBe(1);
    expect((await runner.live("customers")).get(c.id)?.name).toBe("Seen through an event");
  });

  it("takes base_url with or without /v1", async () => {
    fake = await startStripeFake({ counts: { customers: 3 } });
    for (const base of [fake.url, `${fake.url}/`, `${fake.url}/v1`, `${fake.url}/v1/`]) {
      const config = { api_key: fake.apiKey, base_url: base };
      expect((await new StripeConnector({ name: "s", config, settings: SETTINGS }).testConnection()).success, base).toBe(true);
      const r = new SyncRunner(StripeConnector, config, SETTINGS);
      try {
        expect(failures((await r.sync({ entities: ["customers"] })).result), base).toBe("");
        expect((await r.live("customers")).size, base).toBe(3);
      } finally {
        await r.close();
      }
    }
  });

  it("passes the conformance kit, incremental check included", async () => {
    fake = await startStripeFake({ seed: 5, counts: { customers: 9, products: 4, prices: 4, subscriptions: 4, invoices: 4, charges: 6, payment_intents: 4, refunds: 3 } });
    const f = fake;
    const report = await checkConnector({
      connector: StripeConnector,
      config: configOf(f),
      badConfig: configOf(f, "sk_test_wrong"),
      // Paced under the fake's 100 requests/s, as the connector's default would be.
      settings: { ...SETTINGS, requestsPerSecond: 80, burst: 10, maxRetries: 3 },
      changeSource: async () => {
        const [a, b] = f.list("customers");
        f.update("customers", a.id, { name: "Changed" });
        f.remove("customers", b.id);
        f.create("invoices", { status: "draft" });
        f.create("charges", {});
      },
    });
    expect(report.firstFailure).toBeUndefined();
    expect(report.ok).toBe(true);
  });

  it("rides out 429s from Stripe's rate limiter and still syncs everything", async () => {
    fake = await startStripeFake({ requestsPerSecond: 4, counts: { customers: 20 } });
    runner = new SyncRunner(StripeConnector, configOf(fake), { ...SETTINGS, maxRetries: 8 });
    const { result } = await runner.sync({ entities: ["customers"] });
    expect(failures(result)).toBe("");
    expect(fake.stats.rateLimited).toBeGreaterThan(0);
    expect(result.stats.rateLimited).toBe(fake.stats.rateLimited);
    expect((await runner.live("customers")).size).toBe(20);
  });

  describe("bad input gives one clear line naming connector, entity and cause", () => {
    it("wrong key: testConnection says the key was rejected, the sync names the entity", async () => {
      fake = await startStripeFake();
      const bad = new StripeConnector({ name: "s", config: configOf(fake, "sk_test_nope"), settings: SETTINGS });
      const test = await bad.testConnection();
      expect(test.success).toBe(false);
      expect(test.message).toMatch(/^API key rejected: .*401.*Invalid API Key provided/);
      expect(test.message).not.toContain("sk_test_nope");
      runner = new SyncRunner(StripeConnector, configOf(fake, "sk_test_nope"), SETTINGS);
      const { result } = await runner.sync({ entities: ["customers"] });
      expect(result.entities[0].error).toMatch(/^stripe: entity "customers": API key rejected \(GET .*HTTP 401/);
      expect(result.entities[0].chunkRetries).toBe(0);
    });

    it("unreachable host: cannot reach HOST", async () => {
      const test = await new StripeConnector({ name: "s", config: { api_key: "sk_test_x", base_url: "http://127.0.0.1:9" }, settings: { maxRetries: 0 } }).testConnection();
      expect(test).toMatchObject({ success: false });
      expect(test.message).toMatch(/^cannot reach 127\.0\.0\.1:9/);
    });

    it("a key revoked in the middle of a sync fails with the checkpoint intact, and the run resumes from it", async () => {
      fake = await startStripeFake({ counts: { customers: 30 } });
      runner = new SyncRunner(StripeConnector, configOf(fake), SETTINGS);
      const f = fake;
      let revoked = false;
      const { result } = await runner.sync({
        entities: ["customers"],
        onEvent: (e) => {
          if (e.type === "progress" && e.committed > 0 && !revoked) {
            revoked = true;
            f.injectFault({ path: "/v1/", status: 401, times: 1000, body: { error: { type: "invalid_request_error", message: "Expired API Key provided: sk_test_****0000" } } });
          }
        },
      });
      expect(result.entities[0].status).toBe("failed");
      expect(result.entities[0].error).toMatch(/^stripe: entity "customers": API key rejected .*Expired API Key/);
      const checkpoint = await runner.checkpoint("customers");
      expect(checkpoint?.fetchState?.hasMore).toBe(true);
      const committed = (await runner.rows("customers")).length;
      expect(committed).toBeGreaterThan(0);
      expect(committed).toBeLessThan(30);
      // The key works again: the next run resumes where the checkpoint says.
      f.clearFaults();
      const resumed = await runner.sync({ entities: ["customers"] });
      expect(failures(resumed.result)).toBe("");
      expect(resumed.result.entities[0].resumed).toBe(true);
      expect((await runner.live("customers")).size).toBe(30);
    });

    it("a vendor error body and a page of unexpected shape are reported as such, not retried blindly", async () => {
      fake = await startStripeFake();
      runner = new SyncRunner(StripeConnector, configOf(fake), SETTINGS);
      fake.injectFault({ path: "/v1/prices", status: 400, body: { error: { type: "invalid_request_error", code: "parameter_unknown", message: "Received unknown parameter: foo", param: "foo" } } });
      fake.injectFault({ path: "/v1/products", status: 200, body: { data: "not a list" } });
      const { result } = await runner.sync({ entities: ["prices", "products"] });
      const byName = Object.fromEntries(result.entities.map((e) => [e.entity, e]));
      expect(byName.prices.error).toMatch(/^stripe: entity "prices": GET .*\/v1\/prices.* HTTP 400.*Received unknown parameter: foo/);
      expect(byName.products.error).toBe(`stripe: entity "products": unexpected page from GET /v1/products: "object" is undefined, not "list"`);
      expect(byName.products.chunkRetries).toBe(0);
    });

    it("an unknown entity is refused before anything runs", async () => {
      fake = await startStripeFake();
      runner = new SyncRunner(StripeConnector, configOf(fake), SETTINGS);
      await expect(runner.sync({ entities: ["coupons"] })).rejects.toThrow(/unknown entity "coupons" for connector Stripe/);
      const connector = new StripeConnector({ name: "s", config: configOf(fake), settings: SETTINGS });
      await expect(
        connector.fetchEntityChunk({ entity: "coupons", batchSize: 5, maxIterations: 1, onBatch: async () => {}, onProgress: () => {}, onLog: () => {} }),
      ).rejects.toThrow(`stripe: unknown entity "coupons" (this connector has: customers, products, prices, subscriptions, invoices, charges, payment_intents, refunds, balance_transactions, events)`);
    });

    it("a config without api_key names the field when it is first used (the registry builds connectors with {})", async () => {
      const connector = new StripeConnector({ name: "s", config: {} as { api_key: string }, settings: {} });
      expect(connector.getMetadata().name).toBe("Stripe");
      const result = await connector.testConnection();
      expect(result.success).toBe(false);
      expect(result.message).toMatch(/^stripe: invalid config: api_key: /);
    });
  });
});
