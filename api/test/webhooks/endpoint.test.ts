// POST /hooks/:source on a real `mako serve`: what it refuses and how, the body cap, the
// token it does not need, and never a 200 before the event is stored (SQLite mode).
import Database from "better-sqlite3";
import { connect } from "node:net";
import { join } from "node:path";
import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startStripeFake, stripeSignatureHeader, type StripeFake } from "../../../bench/fakes/stripe";
import { createServer } from "../../src/server";
import { WEBHOOK_BODY_LIMIT } from "../../src/server/routes/hooks";
import { post, QUICK_RETRY, serveMako, until, type Served } from "./harness";

const SECRET = "whsec_endpointTestSecret";
let served: Served | undefined;
let fake: StripeFake | undefined;
afterEach(async () => {
  await fake?.close();
  await served?.close();
  served = fake = undefined;
});

const now = () => Math.floor(Date.now() / 1000);
const event = (id: string) =>
  JSON.stringify({ id, object: "event", type: "customer.updated", created: now(), data: { object: { id: `cus_${id}`, object: "customer", name: "N" } } });
const signed = (body: string) => ({ "content-type": "application/json", "stripe-signature": stripeSignatureHeader(now(), body, [SECRET]) });

async function withStripeSource(config: Record<string, unknown> = { webhook_secret: SECRET }) {
  served = await serveMako();
  await served.mako.sources.add({ name: "shop", connector: "stripe", config: { api_key: "sk_test_x", ...config } });
  return `${served.server.url}/hooks/shop`;
}

/** Writes raw HTTP to the server and returns what it answered, without ever sending more than `body`. */
function rawRequest(url: string, head: string, body: Buffer[]): Promise<{ status: number; text: string; sent: number }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = "";
    let sent = 0;
    socket.on("data", (d) => {
      answer += d.toString("utf8");
      const m = /^HTTP\/1\.1 (\d+)[^]*?\r\n\r\n([^]*)$/.exec(answer);
      if (m && m[2].includes("}")) {
        socket.destroy();
        resolve({ status: Number(m[1]), text: m[2], sent });
      }
    });
    socket.on("error", reject);
    // No answer while the body is unfinished means the server waits for all of it.
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error(`no answer after sending ${sent} bytes of the body`));
    });
    socket.write(head);
    for (const chunk of body) {
      sent += chunk.length;
      socket.write(chunk);
    }
  });
}

describe("POST /hooks/:source", () => {
  it("says why it refuses: unknown source, connector without webhooks, secret not set, wrong method", async () => {
    served = await serveMako();
    const m = served.mako;
    await m.sources.add({ name: "demo", connector: "sample", config: {} });
    await m.sources.add({ name: "shop", connector: "stripe", config: { api_key: "sk_test_x" } });
    const body = event("evt_1");
    const unknown = await post(`${served.server.url}/hooks/nope`, body, signed(body));
    expect(unknown).toEqual({ status: 404, json: { error: 'no source named "nope"' } });
    const sample = await post(`${served.server.url}/hooks/demo`, body, signed(body));
    expect(sample).toEqual({ status: 404, json: { error: 'source "demo" takes no webhooks: the sample connector has no webhook support' } });
    const unset = await post(`${served.server.url}/hooks/shop`, body, signed(body));
    expect(unset).toEqual({ status: 404, json: { error: 'webhooks are not set up for source "shop": set its webhook_secret (see: mako sources webhook shop)' } });
    const get = await fetch(`${served.server.url}/hooks/shop`);
    expect(get.status).toBe(405);
    expect((await get.json()).error).toMatch(/POST \/hooks\/SOURCE/);
    expect(served.inbox("shop")).toEqual([]);

    const view = await (await fetch(`${served.server.url}/api/sources/shop/webhook`)).json();
    expect(view).toMatchObject({ supported: true, secretSet: false, lastEventAt: null, pending: 0, url: `${served.server.url}/hooks/shop` });
    expect(await (await fetch(`${served.server.url}/api/sources/demo/webhook`)).json()).toMatchObject({ supported: false, connector: "sample" });
  });

  it("needs no API token (the signature authenticates) while /api does", async () => {
    served = await serveMako();
    await served.mako.sources.add({ name: "shop", connector: "stripe", config: { api_key: "sk_test_x", webhook_secret: SECRET } });
    const app = createServer(served.mako, { token: "the-api-token", uiDir: false });
    const http: ServerType = await new Promise((resolve) => {
      const s = serve({ fetch: app.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    try {
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      expect((await fetch(`${url}/api/sources`)).status).toBe(401);
      const body = event("evt_token");
      expect((await post(`${url}/hooks/shop`, body, signed(body))).status).toBe(200);
      expect(served.inbox("shop").map((r) => r.eventId)).toEqual(["evt_token"]);
    } finally {
      app.close();
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it("answers 413 to a body over the cap without reading it whole, by Content-Length or as it streams", async () => {
    const hook = await withStripeSource();
    const path = new URL(hook).pathname;
    // Declared 4 MiB, 1 KiB sent: the answer comes without the rest.
    const declared = await rawRequest(hook, `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${4 * WEBHOOK_BODY_LIMIT}\r\n\r\n`, [Buffer.alloc(1024, 0x20)]);
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.text).error).toBe(`the body is larger than ${WEBHOOK_BODY_LIMIT} bytes`);
    // Chunked, no length: 64 KiB chunks up to just past the cap, and never the last chunk.
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const chunks: Buffer[] = [];
    for (let n = 0; n <= WEBHOOK_BODY_LIMIT; n += chunk.length) chunks.push(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]));
    const streamed = await rawRequest(hook, `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`, chunks);
    expect(streamed.status).toBe(413);
    expect(streamed.sent).toBeLessThan(WEBHOOK_BODY_LIMIT + 2 * chunk.length);
    // A signed event just under the cap is taken.
    const big = JSON.stringify({ id: "evt_big", object: "event", type: "customer.updated", created: now(), data: { object: { id: "cus_big", object: "customer", note: "x".repeat(WEBHOOK_BODY_LIMIT - 300) } } });
    expect(big.length).toBeLessThanOrEqual(WEBHOOK_BODY_LIMIT);
    expect((await post(hook, big, signed(big))).status).toBe(200);
    expect(served!.inbox("shop").map((r) => r.eventId)).toEqual(["evt_big"]);
  });

  it("answers 503, never 200, while the database is locked, and Stripe's retry lands the event once it is free", async () => {
    const previous = process.env.MAKO_BUSY_TIMEOUT_MS;
    process.env.MAKO_BUSY_TIMEOUT_MS = "100";
    try {
      fake = await startStripeFake({ counts: { customers: 1 } });
      served = await serveMako();
    } finally {
      if (previous === undefined) delete process.env.MAKO_BUSY_TIMEOUT_MS;
      else process.env.MAKO_BUSY_TIMEOUT_MS = previous;
    }
    const s = served;
    const endpoint = fake.addWebhookEndpoint({ url: `${s.server.url}/hooks/shop`, retry: QUICK_RETRY });
    await s.mako.sources.add({ name: "shop", connector: "stripe", config: { api_key: fake.apiKey, base_url: fake.url, webhook_secret: endpoint.secret } });

    // Another process holds the write lock of mako.db.
    const locker = new Database(join(s.home, "mako.db"));
    locker.exec("BEGIN EXCLUSIVE");
    const customer = fake.create("customers", { name: "While locked" });
    const delivery = () => fake!.webhookDeliveries().find((d) => d.endpoint === endpoint.id)!;
    await until(() => (delivery()?.attempts.filter((a) => a.status !== null).length ?? 0) >= 3, "three refused attempts");
    expect(s.inbox("shop")).toEqual([]);
    locker.exec("ROLLBACK");
    locker.close();

    await fake.webhooksSettled();
    const statuses = delivery().attempts.map((a) => a.status);
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.slice(0, -1).every((st) => st === 503)).toBe(true);
    expect(delivery().attempts[0].answer).toMatch(/the metadata store cannot take the event now \(database is locked\)/);
    expect(s.inbox("shop").map((r) => r.objectId)).toEqual([customer.id]);
  });
});
