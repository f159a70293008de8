// The webhook inbox in both metadata stores, and Mako in PostgreSQL mode answering 503 while
// its database is unreachable (through a TCP relay the test cuts), then taking the retry.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStripeFake } from "../../../bench/fakes/stripe";
import { PostgresStore } from "../../src/store/PostgresStore";
import { SecretBox } from "../../src/store/SecretBox";
import { SqliteStore } from "../../src/store/SqliteStore";
import type { InboxEvent } from "../../src/store/WebhookInbox";
import type { MetadataStore } from "../../src/store/MetadataStore";
import { QUICK_RETRY, serveMako, until } from "./harness";

const SERVER = "postgres://postgres@127.0.0.1:5432";
const database = `mako_inbox_${process.pid}_${Date.now().toString(36)}`;
let admin: pg.Client;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "mako-inbox-"));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  admin = new pg.Client({ connectionString: `${SERVER}/test` });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`these tests need PostgreSQL on 127.0.0.1:5432 (user postgres, db test): ${(err as Error).message}`);
  }
  await admin.query(`CREATE DATABASE ${database}`);
});

afterAll(async () => {
  await admin?.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin?.end();
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

const event = (id: string, over: Partial<InboxEvent> = {}): InboxEvent => ({
  source: "shop",
  eventId: id,
  eventType: "customer.updated",
  entity: "customers",
  objectId: `cus_${id}`,
  version: 1_700_000_000_000_000,
  deleted: false,
  record: { id: `cus_${id}`, name: "Ada", nested: { a: [1, 2] } },
  ...over,
});

async function inboxContract(store: MetadataStore) {
  const inbox = store.inbox;
  expect(await inbox.add(event("e1"))).toBe(true);
  expect(await inbox.add(event("e1", { record: { id: "other" } }))).toBe(false);
  // Five deliveries of one event at once: one stored, every caller answered once it is.
  const racing = await Promise.all(Array.from({ length: 5 }, () => inbox.add(event("e2", { version: 2 }))));
  expect(racing.filter(Boolean).length).toBe(1);
  expect(await inbox.add(event("e3", { entity: null, objectId: null, version: null, record: null, eventType: "coupon.created" }))).toBe(true);
  expect(await inbox.add(event("e4", { entity: "products", deleted: true, record: { id: "p", _mako_deleted_at: "2024-01-01T00:00:00.000Z" } }))).toBe(true);
  expect(await inbox.add(event("e1", { source: "other" }))).toBe(true);

  const pending = await inbox.pending("shop", "customers");
  expect(pending.map((e) => e.eventId)).toEqual(["e1", "e2"]);
  expect(pending[0]).toMatchObject({ source: "shop", eventType: "customer.updated", objectId: "cus_e1", version: 1_700_000_000_000_000, deleted: false, appliedAt: null });
  expect(pending[0].record).toEqual({ id: "cus_e1", name: "Ada", nested: { a: [1, 2] } });
  expect(pending[1].seq).toBeGreaterThan(pending[0].seq);
  expect((await inbox.pending("shop", "customers", { afterSeq: pending[0].seq })).map((e) => e.eventId)).toEqual(["e2"]);
  expect((await inbox.pending("shop", "products"))[0]).toMatchObject({ deleted: true, record: { _mako_deleted_at: "2024-01-01T00:00:00.000Z" } });

  const summary = await inbox.summary("shop");
  expect(summary.pending).toBe(3); // e3 maps to nothing: stored applied
  expect(Date.parse(summary.lastReceivedAt!)).toBeGreaterThan(0);
  await inbox.markApplied("shop", ["e1", "e4"], "2024-05-01T00:00:00.000Z");
  await inbox.markApplied("shop", ["e1"], "2030-01-01T00:00:00.000Z");
  expect((await inbox.pending("shop", "customers")).map((e) => e.eventId)).toEqual(["e2"]);
  expect((await inbox.summary("shop")).pending).toBe(1);
  expect((await inbox.pending("other", "customers")).map((e) => e.eventId)).toEqual(["e1"]);
  expect(await inbox.summary("nobody")).toEqual({ lastReceivedAt: null, pending: 0 });

  // What appliers start from: entities with pending events (e3 maps to none).
  expect(await inbox.pendingEntities()).toEqual([
    { source: "other", entity: "customers" },
    { source: "shop", entity: "customers" },
  ]);
  // A full refresh begun before every event re-applies them all, applied or not; one begun after, none.
  const received = await inbox.receivedSince("shop", "customers", "2000-01-01T00:00:00.000Z");
  expect(received.map((e) => [e.eventId, e.appliedAt === null])).toEqual([
    ["e1", false],
    ["e2", true],
  ]);
  expect(await inbox.receivedSince("shop", "customers", new Date(Date.now() + 60_000).toISOString())).toEqual([]);
  // Pruning takes applied events older than the limit only: e1 and e4 (applied 2024-05-01) of
  // shop, never the pending e2, nor e3 (applied on arrival, today).
  expect(await inbox.prune("2025-01-01T00:00:00.000Z")).toBe(2);
  expect((await inbox.receivedSince("shop", "customers", "2000-01-01T00:00:00.000Z")).map((e) => e.eventId)).toEqual(["e2"]);
  expect((await inbox.summary("shop")).pending).toBe(1);
  expect(await inbox.prune("2025-01-01T00:00:00.000Z")).toBe(0);
}

describe("webhook inbox", () => {
  it("SQLite: stores each event id once, lists the pending ones in arrival order, marks them applied", async () => {
    const db = new Database(join(tempDir(), "mako.db"));
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    const store = new SqliteStore(db, SecretBox.forHome(tempDir(), {}));
    await inboxContract(store);
    // Each insert is committed FULL, and the connection's setting is put back.
    expect(db.pragma("synchronous", { simple: true })).toBe(1);
    await store.close();
    await expect(store.inbox.add(event("late"))).rejects.toThrow(/not open/);
  });

  it("PostgreSQL: the same, duplicates racing on the unique index", async () => {
    const store = await PostgresStore.open(`${SERVER}/${database}`, SecretBox.forHome(tempDir(), {}));
    try {
      await inboxContract(store);
    } finally {
      await store.close();
    }
  });

  it("PostgreSQL mode: 503 while the database is unreachable, never 200; Stripe's retry lands the event once it is back", async () => {
    const relay = await startRelay(5432);
    const served = await serveMako({ databaseUrl: `postgres://postgres@127.0.0.1:${relay.port}/${database}` });
    const fake = await startStripeFake({ counts: { customers: 1 } });
    try {
      const endpoint = fake.addWebhookEndpoint({ url: `${served.server.url}/hooks/pgshop`, retry: QUICK_RETRY });
      await served.mako.sources.add({ name: "pgshop", connector: "stripe", config: { api_key: fake.apiKey, base_url: fake.url, webhook_secret: endpoint.secret } });

      await relay.cut();
      const customer = fake.create("customers", { name: "While unreachable" });
      const delivery = () => fake.webhookDeliveries().find((d) => d.endpoint === endpoint.id);
      await until(() => (delivery()?.attempts.filter((a) => a.status !== null).length ?? 0) >= 3, "three refused attempts");
      expect(delivery()!.attempts[0].answer).toMatch(/the metadata store cannot take the event now/);
      await relay.restore();

      await fake.webhooksSettled();
      const statuses = delivery()!.attempts.map((a) => a.status);
      expect(statuses.at(-1)).toBe(200);
      expect(statuses.slice(0, -1).every((s) => s === 503)).toBe(true);
      const check = new pg.Client({ connectionString: `${SERVER}/${database}` });
      await check.connect();
      try {
        const stored = await check.query(`SELECT event_id, object_id, record_json->>'name' AS name FROM mako.webhook_inbox WHERE source = 'pgshop'`);
        expect(stored.rows).toEqual([{ event_id: delivery()!.eventId, object_id: customer.id, name: "While unreachable" }]);
      } finally {
        await check.end();
      }
    } finally {
      await fake.close();
      await served.close();
      await relay.close();
    }
  });
});

/** A TCP relay to a local port that the test can cut (refusing and dropping connections) and restore. */
async function startRelay(targetPort: number) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(targetPort, "127.0.0.1");
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => {});
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as AddressInfo).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server!.close(() => resolve());
    });
  await listen();
  return {
    get port() {
      return port;
    },
    cut: stop,
    restore: listen,
    close: stop,
  };
}
