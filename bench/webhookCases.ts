// Webhook inbox throughput, one case per process (run by bench/run.ts). For N signed Stripe
// `customer.updated` events:
//   endpoint: POSTed to a real `mako serve` on loopback, 16 in flight — each verified (HMAC,
//             tolerance), mapped to its row and committed to the inbox before its 200;
//   bare:     the same rows INSERTed into the same inbox table of the same kind of store, one
//             commit per event (each webhook needs its own before its answer), 16 in flight,
//             with the endpoint's durability (SQLite: synchronous=FULL for the commit).
//   latency:  N events, each about its own customer, POSTed at RATE events/s (default 50) to a
//             real `mako serve` process (SQLite: its in-process applier; PostgreSQL: apply jobs
//             taken by a `mako worker` process); this process polls the table every 5 ms and
//             times each event from just before its POST until its row is visible: p50, p99, max.
// Store: sqlite (MAKO_HOME's mako.db) or postgres (a fresh database on 127.0.0.1:5432).
// Prints one JSON line in the shape of bench/cases.ts results.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import Database from "better-sqlite3";
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
  // The inbox alone: events stay pending (the latency case measures applying them).
  const server = await startServer({ mako, port: 0, uiDir: false, log: () => {}, applyWebhooks: false });
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

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function latency(bodies: string[]) {
  const rate = Number(Object.fromEntries(rest.map((a) => a.split("=", 2))).rate ?? 50);
  const postgres = store === "postgres";
  const setup = await openMako();
  await setup.sources.add({ name: "shop", connector: "stripe", config: { api_key: "sk_test_bench", webhook_secret: SECRET } });
  await setup.close();
  const env = { ...process.env, MAKO_HOME: home, DATABASE_URL: postgres ? `${PG_SERVER}/${database}` : "" };
  const bin = join(import.meta.dirname, "../api/bin/mako.js");
  const serve = spawn(process.execPath, [bin, "serve", "--port", "0", "--no-ui"], { env, stdio: ["ignore", "pipe", "inherit"] });
  // PostgreSQL mode: the worker applies (apply jobs); SQLite mode: mako serve itself.
  const worker = postgres ? spawn(process.execPath, [bin, "worker"], { env, stdio: ["ignore", "pipe", "inherit"] }) : undefined;
  const pool = postgres ? new pg.Pool({ connectionString: `${PG_SERVER}/${database}`, max: 1 }) : undefined;
  try {
    const started = (child: ReturnType<typeof spawn>, pattern: RegExp) =>
      new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout!.on("data", (d) => (out += d));
        const check = setInterval(() => {
          const m = out.match(pattern);
          if (m) clearInterval(check), resolve(m[1] ?? m[0]);
        }, 20);
        child.on("exit", (code) => (clearInterval(check), reject(new Error(`a mako process exited (${code}): ${out}`))));
      });
    const base = await started(serve, /Mako is serving (\S+)/);
    if (worker) await started(worker, /takes entity jobs/);
    const url = `${base}/hooks/shop`;
    const db = postgres ? undefined : new Database(join(home, "mako.db"), { readonly: true });
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    // The reader: every 5 ms, the rows not seen yet.
    const seen = new Set<string>();
    const look = async (): Promise<string[]> => {
      try {
        if (db) return (db.prepare(`SELECT id FROM shop__customers`).pluck().all() as string[]).filter((id) => !seen.has(id));
        return (await pool!.query<{ id: string }>(`SELECT id FROM shop.customers`)).rows.map((r) => r.id).filter((id) => !seen.has(id));
      } catch {
        return []; // no table before the first event is applied
      }
    };
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const fresh = await look();
        const now = performance.now();
        for (const id of fresh) {
          seen.add(id);
          const at = sentAt.get(id);
          if (at !== undefined) latencies.push(now - at), sentAt.delete(id);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const start = performance.now();
    const posts: Promise<void>[] = [];
    for (let i = 0; i < bodies.length; i++) {
      // Paced on the clock, not on answers: a slow answer does not slow the vendor down.
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const body = bodies[i];
      const t = Math.floor(Date.now() / 1000);
      const signature = `t=${t},v1=${createHmac("sha256", SECRET).update(`${t}.${body}`).digest("hex")}`;
      sentAt.set(`cus_${i}`, performance.now());
      posts.push(
        fetch(url, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": signature }, body }).then(async (res) => {
          if (res.status !== 200) throw new Error(`POST /hooks/shop answered ${res.status}: ${await res.text()}`);
          await res.arrayBuffer();
        }),
      );
    }
    await Promise.all(posts);
    const deadline = performance.now() + 30_000;
    while (latencies.length < bodies.length && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const seconds = (performance.now() - start) / 1000;
    polling = false;
    await poller;
    db?.close();
    if (latencies.length < bodies.length) throw new Error(`${bodies.length - latencies.length} of ${bodies.length} events never became visible`);
    const sorted = latencies.sort((a, b) => a - b);
    const ms = (v: number) => Math.round(v * 10) / 10;
    return {
      seconds,
      latencyMs: { p50: ms(percentile(sorted, 50)), p99: ms(percentile(sorted, 99)), max: ms(sorted[sorted.length - 1]) },
      method: `${bodies.length} events at ${rate}/s through POST /hooks/shop to a mako serve process (${postgres ? "PostgreSQL, applied by a mako worker" : "SQLite"}), row visible in the table`,
    };
  } finally {
    await pool?.end();
    for (const child of [serve, worker]) {
      if (!child || child.exitCode !== null) continue;
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  }
}

try {
  const bodies = which === "latency" ? events().map((b, i) => b.replace(`"cus_${i % 1000}"`, `"cus_${i}"`)) : events();
  const result = which === "bare" ? await bare(bodies) : which === "latency" ? await latency(bodies) : await endpoint(bodies);
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
