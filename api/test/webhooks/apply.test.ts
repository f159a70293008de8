// Webhook events applied to the tables, in SQLite mode: a real `mako serve` (its in-process
// applier), the Stripe and Close fakes on loopback delivering signed webhooks through the real
// `/hooks` route, the real SQLite file.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { startCloseFake, type CloseFake } from "../../../bench/fakes/close";
import { startStripeFake, type StripeFake } from "../../../bench/fakes/stripe";
import type { DataRecord } from "../../src/connectors/base/types";
import { CLOSE_WEBHOOK_EVENTS } from "../../src/connectors/close/webhooks";
import { startServer } from "../../src/server";
import { post, QUICK_RETRY, replayHeaders, serveMako, SIGNED_HEADERS, startTap, until, type Served } from "./harness";

const CHILD = fileURLToPath(new URL("./applyChild.ts", import.meta.url));
const SETTINGS = { batchSize: 3, maxIterations: 1, requestsPerSecond: 1000, burst: 1000 };

let stripe: StripeFake | undefined;
let close: CloseFake | undefined;
let served: Served | undefined;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await stripe?.close();
  await close?.close();
  await served?.close();
  stripe = close = served = undefined;
});

async function rows(s: Served, source: string, entity: string): Promise<Map<string, DataRecord>> {
  const all = await s.mako.defaultDestination.readRows({ namespace: source, entity }, { limit: 100_000, offset: 0 });
  return new Map(all.map((r) => [String(r.id), r]));
}

const pending = async (s: Served, source: string) => (await s.mako.store.inbox.summary(source)).pending;
const applied = (s: Served, source: string) => until(async () => (await pending(s, source)) === 0, `${source}'s webhook events applied`);

/** A Stripe source synced once, its endpoint registered with the fake through a tap. */
async function stripeSource(options: { applyWebhooks?: boolean } = {}) {
  stripe = await startStripeFake({ counts: { customers: 8, products: 2, prices: 2, subscriptions: 0, invoices: 0, charges: 0, payment_intents: 0, refunds: 0 } });
  served = await serveMako(options);
  const hook = `${served.server.url}/hooks/shop`;
  const tap = await startTap(hook);
  cleanups.push(tap.close);
  const endpoint = stripe.addWebhookEndpoint({ url: tap.url, retry: QUICK_RETRY });
  await served.mako.sources.add({
    name: "shop",
    connector: "stripe",
    config: { api_key: stripe.apiKey, base_url: stripe.url, webhook_secret: endpoint.secret },
    settings: SETTINGS,
    entities: ["customers", "products", "prices"],
  });
  const first = await (await served.mako.sync("shop")).done;
  expect(first.status, first.error).toBe("succeeded");
  return { hook, tap };
}

/** Genuine signed deliveries of what `change` makes the fake send, held back from Mako. */
async function held(f: StripeFake, tap: Awaited<ReturnType<typeof startTap>>, change: () => void) {
  const from = tap.received.length;
  tap.swallow = true;
  change();
  await f.webhooksSettled();
  tap.swallow = false;
  return tap.received.slice(from).map((d) => ({ body: d.body, headers: replayHeaders(d.headers, SIGNED_HEADERS) }));
}

function expectStripeEqualsFake(s: Served, f: StripeFake) {
  return Promise.all(
    (["customers", "products", "prices"] as const).map(async (resource) => {
      const table = await rows(s, "shop", resource);
      const live = [...table.values()].filter((r) => r._mako_deleted_at == null);
      expect(live.map((r) => r.id).sort(), resource).toEqual(f.list(resource).map((o) => o.id).sort());
      for (const o of f.list(resource)) {
        for (const field of ["name", "email", "unit_amount"]) if (field in o) expect(table.get(o.id)![field], `${resource} ${o.id}.${field}`).toEqual(o[field]);
      }
      const deleted = [...table.values()].filter((r) => r._mako_deleted_at != null).map((r) => r.id);
      expect(deleted.sort(), `${resource} deletions`).toEqual(f.deletedIds(resource).sort());
    }),
  );
}

describe("webhook events → tables (SQLite mode, mako serve applies)", () => {
  it("an update delivered before an older one leaves the newer; a delete then an older update stays deleted", async () => {
    const { hook, tap } = await stripeSource();
    const f = stripe!;
    const s = served!;
    const [a, b] = f.list("customers");
    const older = await held(f, tap, () => f.update("customers", a.id, { name: "T+1" }));
    f.advanceClock(1);
    const newer = await held(f, tap, () => f.update("customers", a.id, { name: "T+2" }));
    for (const d of [...newer, ...older]) expect((await post(hook, d.body, d.headers)).status).toBe(200);
    await applied(s, "shop");
    expect((await rows(s, "shop", "customers")).get(a.id)).toMatchObject({ name: "T+2", _mako_deleted_at: null });

    const update = await held(f, tap, () => f.update("customers", b.id, { name: "updated at T+2" }));
    f.advanceClock(1);
    const removal = await held(f, tap, () => f.remove("customers", b.id));
    for (const d of [...removal, ...update]) expect((await post(hook, d.body, d.headers)).status).toBe(200);
    await applied(s, "shop");
    const row = (await rows(s, "shop", "customers")).get(b.id)!;
    // The late update did not bring the row back: it is the deletion's, at the deletion's version.
    expect(row._mako_deleted_at).not.toBeNull();
    const deletedAt = JSON.parse(removal[0].body).created as number;
    expect(Number(row._mako_version)).toBe((deletedAt + 1) * 1_000_000 - 1);
    expect(deletedAt).toBeGreaterThan(JSON.parse(update[0].body).created);
  });

  it("a burst of Stripe webhooks, then a final incremental pull: the tables equal the fake", async () => {
    await stripeSource();
    const f = stripe!;
    const s = served!;
    const customers = f.list("customers");
    for (let i = 0; i < 40; i++) {
      const c = customers[i % customers.length];
      if (f.deletedIds("customers").includes(c.id)) continue;
      f.update("customers", c.id, { name: `burst ${i}`, email: `b${i}@example.com` });
      if (i % 9 === 0) f.advanceClock(1);
    }
    f.remove("customers", customers[3].id);
    const product = f.create("products", { name: "Launched by webhook" });
    f.create("prices", { product: product.id, unit_amount: 4200 });
    await f.webhooksSettled();
    await applied(s, "shop");
    // The webhooks alone already carried every change.
    await expectStripeEqualsFake(s, f);
    const last = await (await s.mako.sync("shop")).done;
    expect(last.status, last.error).toBe("succeeded");
    await expectStripeEqualsFake(s, f);
  });

  it("customers created and updated by webhook during a full refresh keep those changes after the swap", async () => {
    await stripeSource();
    const f = stripe!;
    const s = served!;
    const created: string[] = [];
    const [kept] = f.list("customers");
    const started = await s.mako.sync("shop", {
      entities: ["customers"],
      fullRefresh: true,
      hooks: {
        // After every chunk, the last one too: that customer is created after the pass read
        // everything, so only the events re-applied after the swap can keep it.
        afterCommit: async (_entity, seq) => {
          created.push(f.create("customers", { name: `Born mid-refresh ${created.length}` }).id);
          f.update("customers", kept.id, { name: `Updated after chunk ${seq}` });
          await f.webhooksSettled();
        },
      },
    });
    const result = await started.done;
    expect(result.status, result.error).toBe("succeeded");
    expect(result.entities[0].chunks).toBeGreaterThan(1);
    const table = await rows(s, "shop", "customers");
    created.forEach((id, i) => expect(table.get(id), id).toMatchObject({ name: `Born mid-refresh ${i}`, _mako_deleted_at: null }));
    // The shadow holds the pull's older read of this one: the update re-applied after the swap wins.
    expect(table.get(kept.id)).toMatchObject({ name: `Updated after chunk ${result.entities[0].chunks}`, _mako_deleted_at: null });
    // The sync applied them (it was the entity's writer): nothing is left pending.
    expect(await pending(s, "shop")).toBe(0);
    await expectStripeEqualsFake(s, f);
  });

  it("a running sync of the entity applies the events that arrive meanwhile; the applier leaves them to it", async () => {
    await stripeSource();
    const f = stripe!;
    const s = served!;
    const [a] = f.list("customers");
    let seenPending = -1;
    let applierWrote = false;
    const started = await s.mako.sync("shop", {
      entities: ["customers"],
      fullRefresh: true,
      hooks: {
        beforeCommit: async (_entity, seq) => {
          if (seq !== 1) return;
          f.update("customers", a.id, { name: "during the sync" });
          await f.webhooksSettled();
          // Longer than the applier's debounce: it woke, and left the event to this sync.
          await new Promise((r) => setTimeout(r, 500));
          seenPending = await pending(s, "shop");
          applierWrote = (await rows(s, "shop", "customers")).get(a.id)?.name === "during the sync";
        },
      },
    });
    expect((await started.done).status).toBe("succeeded");
    expect(seenPending).toBe(1);
    expect(applierWrote).toBe(false);
    expect(await pending(s, "shop")).toBe(0);
    expect((await rows(s, "shop", "customers")).get(a.id)?.name).toBe("during the sync");
  });

  it("killed between applying a batch and marking it applied: applied again at the next start, the table unchanged", async () => {
    const { hook } = await stripeSource({ applyWebhooks: false });
    const f = stripe!;
    const s = served!;
    const [a, b] = f.list("customers");
    f.update("customers", a.id, { name: "before the kill" });
    f.remove("customers", b.id);
    await f.webhooksSettled();
    expect(await pending(s, "shop")).toBe(2);

    const child = spawn(process.execPath, ["--import", "tsx", CHILD, s.home, "shop", "customers"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on("exit", (code, signal) => resolve(signal ?? code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes('"applied"')) resolve();
      });
      child.on("exit", () => reject(new Error(`the child ended before applying: ${err || out}`)));
    });
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect(out).not.toContain("unexpected");

    // Written, not marked: both events are still pending.
    const afterKill = await rows(s, "shop", "customers");
    expect(afterKill.get(a.id)?.name).toBe("before the kill");
    expect(afterKill.get(b.id)?._mako_deleted_at).not.toBeNull();
    expect(await pending(s, "shop")).toBe(2);

    // A server starting applies what is pending: again, changing nothing.
    const again = await startServer({ mako: s.mako, port: 0, uiDir: false, log: () => {} });
    cleanups.push(() => again.close());
    await applied(s, "shop");
    const withoutSyncedAt = (m: Map<string, DataRecord>) => [...m.values()].map(({ _mako_synced_at, ...r }) => r);
    expect(withoutSyncedAt(await rows(s, "shop", "customers"))).toEqual(withoutSyncedAt(afterKill));
    void hook;
  });

  it("a burst of Close webhooks, then a final incremental pull: the tables equal the fake", async () => {
    close = await startCloseFake({ leads: 4, rateLimit: false });
    served = await serveMako();
    const s = served;
    const f = close;
    const events = CLOSE_WEBHOOK_EVENTS.map((e) => {
      const at = e.lastIndexOf(".");
      return { object_type: e.slice(0, at), action: e.slice(at + 1) as "created" | "updated" | "deleted" };
    });
    const sub = f.subscribeWebhook({ url: `${s.server.url}/hooks/crm`, events, retry: QUICK_RETRY, consolidationMs: 0 });
    await s.mako.sources.add({
      name: "crm",
      connector: "close",
      config: { api_key: f.apiKey, base_url: `${f.url}/api/v1`, webhook_signature_key: sub.signature_key },
      settings: SETTINGS,
      entities: ["leads", "contacts"],
    });
    expect((await (await s.mako.sync("crm")).done).status).toBe("succeeded");
    const leads = f.list("lead");
    for (let i = 0; i < 30; i++) f.update("lead", leads[i % leads.length].id, { name: `lead burst ${i}` });
    const [contact, doomed] = f.list("contact");
    f.update("contact", contact.id, { title: "CFO" });
    f.remove("contact", doomed.id);
    f.create("lead", { name: "Lead by webhook" });
    await f.webhooksSettled();
    await applied(s, "crm");
    const expectCloseEqualsFake = async () => {
      for (const [entity, kind] of [["leads", "lead"], ["contacts", "contact"]] as const) {
        const table = await rows(s, "crm", entity);
        const live = [...table.values()].filter((r) => r._mako_deleted_at == null);
        expect(live.map((r) => r.id).sort(), entity).toEqual(f.list(kind).map((o) => o.id).sort());
        for (const o of f.list(kind)) {
          expect(table.get(o.id)!.date_updated, `${entity} ${o.id}`).toBe(o.date_updated);
          if ("name" in o) expect(table.get(o.id)!.name).toBe(o.name);
        }
        expect([...table.values()].filter((r) => r._mako_deleted_at != null).map((r) => r.id).sort(), `${entity} deletions`).toEqual(f.deletedIds(kind).sort());
      }
    };
    await expectCloseEqualsFake();
    expect((await (await s.mako.sync("crm")).done).status).toBe("succeeded");
    await expectCloseEqualsFake();
  });
});
