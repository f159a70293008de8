// One benchmark case per process, so each peak RSS is its own. Prints one JSON line:
// { records, seconds, bytes, peakRssMb, method }. Run by bench/run.ts.
import Database from "better-sqlite3";
import { createPrivateKey, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateUser } from "../api/src/connectors/sample/generate";
import { SampleConnector } from "../api/src/connectors/sample";
import { BigQueryConnector } from "../api/src/connectors/bigquery";
import { rowDecoder, type TableField } from "../api/src/connectors/bigquery/decode";
import { SqliteDestination } from "../api/src/destinations/sqlite/SqliteDestination";
import { SyncEngine } from "../api/src/sync/SyncEngine";
import { BENCH_QUERY } from "./bigqueryData";
import { RecordsApiConnector } from "./connectors/RecordsApiConnector";

export interface CaseResult {
  records: number;
  seconds: number;
  /** Bytes of the records as JSON. */
  bytes: number;
  peakRssMb: number;
  method: string;
  /** Latency cases: milliseconds per event. */
  latencyMs?: { p50: number; p99: number; max: number };
}

type Case = (n: number, args: Record<string, string>) => Promise<Omit<CaseResult, "peakRssMb">>;

const dir = mkdtempSync(join(tmpdir(), "mako-bench-"));
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;
/** JSON size of N sample users, from the first 1000 (the generator's sizes are uniform). */
const userBytes = (n: number) => {
  let sum = 0;
  const k = Math.min(n, 1000);
  for (let i = 1; i <= k; i++) sum += JSON.stringify(generateUser(i, 42)).length;
  return (sum / k) * n;
};

const USER_COLUMNS = ["id", "name", "email", "plan", "is_active", "score", "address", "tags", "created_at", "updated_at"];

const cases: Record<string, Case> = {
  /** The bare SQLite path: prepared INSERT … ON CONFLICT in 1000-row transactions. */
  async "sqlite-bare"(n) {
    const db = new Database(join(dir, "bare.db"));
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, plan TEXT, is_active INTEGER, score REAL,
      address TEXT, tags TEXT, created_at TEXT, updated_at TEXT, synced_at TEXT)`);
    const cols = [...USER_COLUMNS, "synced_at"];
    const insert = db.prepare(
      `INSERT INTO users (${cols.join(",")}) VALUES (${cols.map(() => "?").join(",")})
       ON CONFLICT (id) DO UPDATE SET ${cols.slice(1).map((c) => `${c} = excluded.${c}`).join(", ")}`,
    );
    const start = performance.now();
    const write = db.transaction((from: number, to: number) => {
      const now = new Date().toISOString();
      for (let i = from; i <= to; i++) {
        const u = generateUser(i, 42);
        insert.run(u.id, u.name, u.email, u.plan, u.is_active ? 1 : 0, u.score, JSON.stringify(u.address), JSON.stringify(u.tags), u.created_at, u.updated_at, now);
      }
    });
    for (let i = 1; i <= n; i += 1000) write(i, Math.min(n, i + 999));
    const seconds = (performance.now() - start) / 1000;
    db.close();
    return { records: n, seconds, bytes: userBytes(n), method: "prepared upsert, 1000-row transactions" };
  },

  /** Mako: the sample source through the engine into the embedded destination. */
  async "sqlite-mako"(n) {
    const destination = SqliteDestination.open(join(dir, "mako.db"));
    const start = performance.now();
    const result = await new SyncEngine().run({
      runId: "bench",
      namespace: "bench",
      connector: new SampleConnector({ name: "bench", config: { count: n, seed: 42 }, settings: {} }),
      destination,
      settings: { batchSize: 1000, maxIterations: 10 },
      entities: ["users"],
    });
    const seconds = (performance.now() - start) / 1000;
    if (result.status !== "succeeded") throw new Error(result.error);
    await destination.close();
    return { records: result.entities[0].records, seconds, bytes: userBytes(n), method: "sample → engine → SqliteDestination" };
  },

  /** The bare fetch: every page of the local API, JSON.parse'd, nothing stored. */
  async "http-bare"(n, args) {
    const start = performance.now();
    let records = 0;
    let bytes = 0;
    for (let cursor: string | null = null; ; ) {
      const url = `${args.url}/records?limit=1000${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await fetch(url, { headers: { Authorization: `Bearer ${args.token}` } });
      const text = await res.text();
      bytes += text.length;
      const page = JSON.parse(text) as { data: unknown[]; has_more: boolean; next_cursor: string | null };
      records += page.data.length;
      if (!page.has_more) break;
      cursor = page.next_cursor;
    }
    return { records, seconds: (performance.now() - start) / 1000, bytes, method: "fetch + JSON.parse, 1000/page" };
  },

  /** Mako: a guide-style connector on the shared HTTP client, through the engine, into SQLite. */
  async "http-mako"(n, args) {
    const destination = SqliteDestination.open(join(dir, "http.db"));
    const start = performance.now();
    const settings = { batchSize: 1000, maxIterations: 10, requestsPerSecond: 100_000, burst: 1000 };
    const result = await new SyncEngine().run({
      runId: "bench",
      namespace: "bench",
      connector: new RecordsApiConnector({ name: "bench", connector: "records", config: { base_url: args.url, token: args.token }, settings }),
      destination,
      settings,
    });
    const seconds = (performance.now() - start) / 1000;
    if (result.status !== "succeeded") throw new Error(result.error);
    await destination.close();
    return { records: result.entities[0].records, seconds, bytes: Number(args.bytes), method: "RecordsApiConnector → engine → SQLite" };
  },

  /**
   * The bare BigQuery read: a token, jobs.query, then every page of getQueryResults — fetched,
   * JSON.parse'd and decoded into records with the connector's decoder — nothing stored.
   */
  async "bigquery-bare"(n, args) {
    const key = JSON.parse(readFileSync(args.keyFile, "utf8")) as { private_key: string; client_email: string; token_uri: string; project_id: string };
    const start = performance.now();
    const now = Math.floor(Date.now() / 1000);
    const part = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const input = `${part({ alg: "RS256", typ: "JWT" })}.${part({ iss: key.client_email, scope: "https://www.googleapis.com/auth/bigquery.readonly", aud: key.token_uri, iat: now, exp: now + 3600 })}`;
    const assertion = `${input}.${sign("sha256", Buffer.from(input), createPrivateKey(key.private_key)).toString("base64url")}`;
    const tokenRes = await fetch(key.token_uri, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }),
    });
    const { access_token } = (await tokenRes.json()) as { access_token: string };
    const headers = { authorization: `Bearer ${access_token}`, "content-type": "application/json" };
    type Page = { jobComplete: boolean; jobReference: { jobId: string; location?: string }; schema?: { fields: TableField[] }; rows?: { f: { v: unknown }[] }[]; pageToken?: string };
    let bytes = 0;
    const read = async (res: Response) => {
      const text = await res.text();
      bytes += text.length;
      return JSON.parse(text) as Page;
    };
    const base = `${args.api}/projects/${key.project_id}/queries`;
    let page = await read(
      await fetch(base, { method: "POST", headers, body: JSON.stringify({ query: BENCH_QUERY, useLegacySql: false, maxResults: 1000, formatOptions: { useInt64Timestamp: true } }) }),
    );
    const results = (token?: string) =>
      `${base}/${page.jobReference.jobId}?maxResults=1000&formatOptions.useInt64Timestamp=true&location=${page.jobReference.location ?? ""}${token ? `&pageToken=${encodeURIComponent(token)}` : ""}`;
    while (!page.jobComplete) page = await read(await fetch(results(), { headers }));
    const decode = rowDecoder(page.schema!.fields);
    let records = 0;
    for (;;) {
      for (const row of page.rows ?? []) if (decode(row)) records++;
      if (!page.pageToken) break;
      page = await read(await fetch(results(page.pageToken), { headers }));
    }
    return { records, seconds: (performance.now() - start) / 1000, bytes, method: "fetch + JSON.parse + decode, 1000/page" };
  },

  /** Mako: the BigQuery connector on the shared HTTP client, through the engine, into SQLite. */
  async "bigquery-mako"(n, args) {
    const destination = SqliteDestination.open(join(dir, "bigquery.db"));
    const settings = { batchSize: 1000, maxIterations: 10, requestsPerSecond: 100_000, burst: 1000 };
    const config = { service_account_json: readFileSync(args.keyFile, "utf8"), base_url: args.api, entities: [{ name: "events", query: BENCH_QUERY }] };
    const start = performance.now();
    const result = await new SyncEngine().run({
      runId: "bench",
      namespace: "bench",
      connector: new BigQueryConnector({ name: "bench", connector: "bigquery", config, settings }),
      destination,
      settings,
    });
    const seconds = (performance.now() - start) / 1000;
    if (result.status !== "succeeded") throw new Error(result.error ?? result.entities[0]?.error);
    await destination.close();
    return { records: result.entities[0].records, seconds, bytes: Number(args.bytes), method: "BigQueryConnector → engine → SQLite" };
  },

  /** What a user writes by hand: fetch a page, insert each row on its own (default pragmas). */
  async "http-naive"(n, args) {
    const db = new Database(join(dir, "naive.db"));
    db.exec(`CREATE TABLE records (id TEXT PRIMARY KEY, name TEXT, amount REAL, active INTEGER, tags TEXT, meta TEXT, created_at TEXT, updated_at TEXT)`);
    const insert = db.prepare(`INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    const start = performance.now();
    let records = 0;
    for (let cursor: string | null = null; records < n; ) {
      const res = await fetch(`${args.url}/records?limit=1000${cursor ? `&cursor=${cursor}` : ""}`, { headers: { Authorization: `Bearer ${args.token}` } });
      const page = (await res.json()) as { data: any[]; has_more: boolean; next_cursor: string | null };
      for (const r of page.data) {
        insert.run(r.id, r.name, r.amount, r.active ? 1 : 0, JSON.stringify(r.tags), JSON.stringify(r.meta), r.created_at, r.updated_at);
        records++;
      }
      if (!page.has_more) break;
      cursor = page.next_cursor;
    }
    const seconds = (performance.now() - start) / 1000;
    db.close();
    return { records, seconds, bytes: 0, method: "fetch page, insert row by row" };
  },
};

async function main() {
  const [name, nText, ...rest] = process.argv.slice(2);
  const args = Object.fromEntries(rest.map((a) => a.split("=", 2) as [string, string]));
  const run = cases[name];
  if (!run) throw new Error(`unknown case "${name}"; cases: ${Object.keys(cases).join(", ")}`);
  try {
    const result = await run(Number(nText), args);
    process.stdout.write(JSON.stringify({ ...result, peakRssMb: peakRssMb() }) + "\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
