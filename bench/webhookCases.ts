// Webhook inbox throughput, one case per process (run by bench/run.ts). For N signed Stripe
// `customer.updated` events:
//   endpoint: POSTed to a real `mako serve` on loopback, 16 in flight — each verified (HMAC,
//             tolerance), mapped to its row and committed to the inbox before its 200;
//   bare:     the same rows INSERTed into the same inbox table of the same kind of store, one
//             commit per event (each webhook needs its own before its answer), 16 in flight,
//             with the endpoint's durability (SQLite: synchronous=FULL for the commit).
// Store: sqlite (MAKO_HOME's mako.db) or postgres (a fresh database on 127.0.0.1:5432).
// Prints one JSON line in the shape of bench/cases.ts results.
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { Mako } from "../api/src/Mako";
import { startServer } from "../api/src/server";

const SECRET = "whsec_benchSecret";
const IN_FLIGHT = 16;
const PG_SERVER = "postgres://postgres@127.0.0.1:5432";

const [which, nText, ...rest] = process.argv.slice(2);
const n = Number(nText);
const store = Object.fromEntries(rest.map((a) => a.split("=", 2))).store ?? "sqlite";
const home = mkdtempSync(join(tmpdir(), "mako-bench-hooks-"));
const database = `mako_bench_hooks_${process.pid}`;
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

function events(): string[] {
  const created = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify(
      {
        id: `evt_bench_${i}`,
        object: "event",
        api_version: "2024-06-20",
        created,
        type: "customer.updated",
        livemode: false,
        pending_webhooks: 1,
        request: { id: `req_${i}`, idempotency_key: null },
        data: {
          object: { id: `cus_${i % 1000}`, object: "customer", created, name: `Customer ${i}`, email: `c${i}@example.com`, balance: i, currency: "usd", delinquent: false, metadata: { n: String(i) } },
          previous_attributes: { name: `Customer ${i - 1}` },
        },
      },
      null,
      2,
    ),
  );
}

/** Runs `work` on every item with `limit` in flight. */
async function pooled<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

async function openMako(): Promise<Mako> {
  if (store !== "postgres") return Mako.open({ home });
  const admin = new pg.Client({ connectionString: `${PG_SERVER}/test` });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  return Mako.open({ home, databaseUrl: `${PG_SERVER}/${database}` });
}

async function endpoint(bodies: string[]) {
  const mako = await openMako();
  await mako.sources.add({ name: "shop", connector: "stripe", config: { api_key: "sk_test_bench", webhook_secret: SECRET } });
  const server = await startServer({ mako, port: 0, uiDir: false, log: () => {} });
  const url = `${server.url}/hooks/shop`;
  const t = Math.floor(Date.now() / 1000);
  const signed = bodies.map((body) => ({ body, signature: `t=${t},v1=${createHmac("sha256", SECRET).update(`${t}.${body}`).digest("hex")}` }));
  const start = performance.now();
  await pooled(signed, IN_FLIGHT, async ({ body, signature }) => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": signature }, body });
    if (res.status !== 200) throw new Error(`POST /hooks/shop answered ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
  });
  const seconds = (performance.now() - start) / 1000;
  const { pending } = await mako.store.inbox.summary("shop");
  if (pending !== n) throw new Error(`${pending} events stored, ${n} sent`);
  await server.close();
  await mako.close();
  return { seconds, method: `POST /hooks/shop on loopback, ${IN_FLIGHT} in flight: verify, map, commit, 200` };
}

async function bare(bodies: string[]) {
  const mako = await openMako();
  // The rows the endpoint stores, built outside the timing.
  const rows = bodies.map((body) => {
    const e = JSON.parse(body);
    return [e.id, e.type, "customers", e.data.object.id, e.created * 1_000_000, JSON.stringify(e.data.object)] as const;
  });
  const columns = "(source, event_id, event_type, entity, object_id, version, deleted, record_json, received_at)";
  let seconds: number;
  if (mako.embedded) {
    const db = mako.embedded.db;
    const insert = db.prepare(`INSERT INTO mako_webhook_inbox ${columns} VALUES ('shop', ?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (source, event_id) DO NOTHING`);
    db.pragma("synchronous = FULL");
    const start = performance.now();
    await pooled(rows, IN_FLIGHT, async (r) => void insert.run(...r, new Date().toISOString()));
    seconds = (performance.now() - start) / 1000;
  } else {
    const pool = new pg.Pool({ connectionString: `${PG_SERVER}/${database}`, max: 4 });
    const start = performance.now();
    await pooled(rows, IN_FLIGHT, async (r) => {
      await pool.query(`INSERT INTO mako.webhook_inbox ${columns} VALUES ('shop', $1, $2, $3, $4, $5, false, $6, $7) ON CONFLICT (source, event_id) DO NOTHING`, [...r, new Date().toISOString()]);
    });
    seconds = (performance.now() - start) / 1000;
    await pool.end();
  }
  await mako.close();
  return { seconds, method: `INSERT … ON CONFLICT DO NOTHING, one commit per event, ${IN_FLIGHT} in flight` };
}

try {
  const bodies = events();
  const result = which === "bare" ? await bare(bodies) : await endpoint(bodies);
  const bytes = bodies.reduce((sum, b) => sum + b.length, 0);
  process.stdout.write(JSON.stringify({ records: n, bytes, peakRssMb: peakRssMb(), ...result }) + "\n");
} finally {
  rmSync(home, { recursive: true, force: true });
  if (store === "postgres") {
    const admin = new pg.Client({ connectionString: `${PG_SERVER}/test` });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}
