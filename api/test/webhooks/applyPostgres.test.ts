// Webhook events applied in PostgreSQL mode: a real `mako serve` process asks the workers for
// apply jobs (pg-boss), a real `mako worker` process takes the entity's lease and applies them;
// the Stripe fake delivers signed webhooks through the real `/hooks` route.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStripeFake, type StripeFake } from "../../../bench/fakes/stripe";
import { Mako } from "../../src/Mako";
import { repo, TestDatabase, type WorkerProcess } from "../cluster/harness";
import { QUICK_RETRY } from "./harness";

const db = new TestDatabase("hooks");
let mako: Mako;
let stripe: StripeFake;
let serve: ChildProcess | undefined;
let serveOutput = "";
let worker: WorkerProcess;

beforeAll(async () => {
  await db.create();
  mako = await Mako.open({ home: db.home, databaseUrl: db.url });
}, 60_000);

afterAll(async () => {
  serve?.kill("SIGKILL");
  await stripe?.close();
  await mako?.close();
  await db.drop();
});

/** `mako serve` in PostgreSQL mode on a free port; its URL. */
async function startServe(): Promise<string> {
  serve = spawn(process.execPath, [join(repo, "api/bin/mako.js"), "serve", "--port", "0", "--no-ui"], { cwd: repo, env: db.env(), stdio: ["ignore", "pipe", "pipe"] });
  serve.stdout!.on("data", (d) => (serveOutput += d));
  serve.stderr!.on("data", (d) => (serveOutput += d));
  return db.until("mako serve to listen", async () => serveOutput.match(/Mako is serving (\S+)/)?.[1], 30_000);
}

const pending = async () => (await mako.store.inbox.summary("shop")).pending;

async function expectEqualsFake() {
  for (const resource of ["customers", "products"] as const) {
    const rows = await db.query<{ id: string; name: string; deleted: boolean }>(`SELECT id, name, _mako_deleted_at IS NOT NULL AS deleted FROM shop.${resource} ORDER BY id`);
    const truth = stripe.list(resource);
    expect(rows.filter((r) => !r.deleted).map((r) => r.id), resource).toEqual(truth.map((o) => o.id).sort());
    for (const o of truth) expect(rows.find((r) => r.id === o.id)?.name, `${resource} ${o.id}`).toBe(o.name);
    expect(rows.filter((r) => r.deleted).map((r) => r.id), `${resource} deletions`).toEqual(stripe.deletedIds(resource).sort());
  }
}

describe("webhook events → tables (PostgreSQL mode, mako worker applies)", () => {
  it("a burst through mako serve is applied by a worker's apply jobs (not one per event), in version order; a final pull changes nothing", async () => {
    stripe = await startStripeFake({ counts: { customers: 6, products: 2, prices: 0, subscriptions: 0, invoices: 0, charges: 0, payment_intents: 0, refunds: 0 } });
    const url = await startServe();
    const endpoint = stripe.addWebhookEndpoint({ url: `${url}/hooks/shop`, retry: QUICK_RETRY });
    await mako.sources.add({
      name: "shop",
      connector: "stripe",
      config: { api_key: stripe.apiKey, base_url: stripe.url, webhook_secret: endpoint.secret },
      settings: { requestsPerSecond: 1000, burst: 1000 },
      entities: ["customers", "products"],
    });
    const first = await (await mako.sync("shop")).done;
    expect(first.status, first.error).toBe("succeeded");

    // Events stored while no worker runs wait; a worker starting asks for their apply jobs.
    const customers = stripe.list("customers");
    stripe.update("customers", customers[0].id, { name: "before any worker" });
    await stripe.webhooksSettled();
    expect(await pending()).toBe(1);
    worker = db.worker("hooks-w1");
    await worker.started();
    await db.until("the waiting event applied by the worker", async () => (await pending()) === 0);

    for (let i = 0; i < 60; i++) {
      const c = customers[i % customers.length];
      if (stripe.deletedIds("customers").includes(c.id)) continue;
      stripe.update("customers", c.id, { name: `burst ${i}` });
      if (i % 20 === 0) stripe.advanceClock(1);
      if (i === 30) stripe.remove("customers", customers[5].id);
    }
    stripe.create("products", { name: "Launched by webhook" });
    await stripe.webhooksSettled();
    await db.until("the burst applied", async () => (await pending()) === 0);
    await expectEqualsFake();
    expect(serveOutput).not.toMatch(/could not ask the workers/);
    // Debounced: far fewer apply jobs than events.
    const [{ jobs }] = await db.query<{ jobs: number }>(`SELECT count(*)::int AS jobs FROM mako_queue.job WHERE name = 'apply'`);
    const [{ events }] = await db.query<{ events: number }>(`SELECT count(*)::int AS events FROM mako.webhook_inbox`);
    expect(events).toBeGreaterThan(55);
    expect(jobs).toBeGreaterThan(0);
    expect(jobs).toBeLessThan(events / 2);

    const last = await (await mako.sync("shop")).done;
    expect(last.status, last.error).toBe("succeeded");
    await expectEqualsFake();
  }, 120_000);

  it("while another writer holds the entity's lease, apply jobs write nothing; once it lets go, the event is applied", async () => {
    const [c] = stripe.list("customers");
    // A writer (a sync on some worker) holds customers for 4 s.
    await db.query(
      `INSERT INTO mako.leases (source, entity, holder, fence, expires_at) VALUES ('shop', 'customers', 'elsewhere/1#sync', 1, now() + interval '4 seconds')
       ON CONFLICT (source, entity) DO UPDATE SET holder = excluded.holder, fence = mako.leases.fence + 1, expires_at = excluded.expires_at`,
    );
    stripe.update("customers", c.id, { name: "while held" });
    await stripe.webhooksSettled();
    await new Promise((r) => setTimeout(r, 2000));
    expect(await pending()).toBe(1);
    const [held] = await db.query<{ name: string }>(`SELECT name FROM shop.customers WHERE id = $1`, [c.id]);
    expect(held.name).not.toBe("while held");
    await db.until("the event applied once the lease is free", async () => (await pending()) === 0, 20_000);
    const [row] = await db.query<{ name: string }>(`SELECT name FROM shop.customers WHERE id = $1`, [c.id]);
    expect(row.name).toBe("while held");
  }, 60_000);
});
