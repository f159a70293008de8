// `npm run bench`: each of Mako's paths beside its baseline, measured in the same run, as
// ratios (the machines are shared and noisy, so absolute figures mean little on their own).
//   npm run bench                      1,000,000 records (SQLite), 200,000 (HTTP), 100,000 (BigQuery, servers)
//   npm run bench -- --quick           10,000 everywhere (what CI runs, so the bench never rots)
//   npm run bench -- --only sqlite,http,bigquery,servers,memory,webhooks,workers,cli,limiter
import { spawn } from "node:child_process";
import { writeFileSync, mkdirSync } from "node:fs";
import { arch, cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CaseResult } from "./cases";
import { startBigQueryBench } from "./bigqueryData";
import { measureStartup, measureSyncProcess, measureUnreachableSync } from "./cliProcess";
import { startFaultyApi } from "./fakes/faultyApi";
import { benchLimiter, type LimiterFigures } from "./limiterBench";
import { benchWorkers } from "./clusterCases";

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const only = argv.includes("--only") ? argv[argv.indexOf("--only") + 1].split(",") : ["sqlite", "http", "bigquery", "servers", "memory", "webhooks", "workers", "cli", "limiter"];
const N = {
  sqlite: quick ? 10_000 : 1_000_000,
  http: quick ? 10_000 : 200_000,
  bigquery: quick ? 10_000 : 100_000,
  naive: quick ? 2_000 : 5_000,
  servers: quick ? 10_000 : 100_000,
  small: quick ? 1_000 : 100_000,
  webhooks: quick ? 1_000 : 10_000,
  /** Events for the latency case, sent at 50/s. */
  webhookLatency: quick ? 150 : 1_000,
  workers: quick ? 10_000 : 100_000,
};

interface Row {
  what: string;
  result: CaseResult;
  baseline?: { name: string; result: CaseResult };
  target?: number;
}

const rows: Row[] = [];
const failures: string[] = [];
let crashed = false;

function runCase(name: string, n: number, args: Record<string, string | number> = {}, script = "cases.ts"): Promise<CaseResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(here, script), name, String(n), ...Object.entries(args).map(([k, v]) => `${k}=${v}`)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) return reject(new Error(`bench case ${name} failed (exit ${code})`));
      resolve(JSON.parse(line));
    });
  });
}

const rate = (r: CaseResult) => r.records / r.seconds;
const fmt = (n: number) => new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 }).format(n);

function report(row: Row): void {
  rows.push(row);
  const r = row.result;
  const base = row.baseline;
  const ratio = base ? rate(r) / rate(base.result) : undefined;
  const verdict = ratio !== undefined && row.target !== undefined ? (ratio >= row.target ? "ok" : `BELOW ${row.target}`) : "";
  if (verdict.startsWith("BELOW")) failures.push(`${row.what}: ratio ${ratio!.toFixed(2)} < ${row.target}`);
  console.log(
    `${row.what.padEnd(34)} ${fmt(r.records).padStart(9)} rec ${fmt(rate(r)).padStart(9)} rec/s ${(r.bytes / 1e6 / r.seconds).toFixed(1).padStart(6)} MB/s ${fmt(r.peakRssMb).padStart(5)} MB RSS` +
      (base ? `  | ${base.name}: ${fmt(rate(base.result))} rec/s → ratio ${ratio!.toFixed(2)} ${verdict}` : ""),
  );
}

async function sqlite() {
  console.log(`\n## sample users → SQLite (${fmt(N.sqlite)} records)`);
  const bare = await runCase("sqlite-bare", N.sqlite);
  const mako = await runCase("sqlite-mako", N.sqlite);
  report({ what: "mako sync → SQLite", result: mako, baseline: { name: "bare upsert", result: bare }, target: 0.7 });
  report({ what: "bare SQLite upsert", result: bare });
  if (mako.peakRssMb > 300) failures.push(`SQLite peak RSS ${fmt(mako.peakRssMb)} MB > 300 MB`);
}

async function memory() {
  console.log(`\n## memory: RSS at ${fmt(N.small)} vs ${fmt(N.sqlite)} records (must stay flat)`);
  const small = await runCase("sqlite-mako", N.small);
  const large = await runCase("sqlite-mako", N.sqlite);
  const growth = large.peakRssMb / small.peakRssMb;
  console.log(`peak RSS ${fmt(small.peakRssMb)} MB at ${fmt(N.small)} → ${fmt(large.peakRssMb)} MB at ${fmt(N.sqlite)}: ×${growth.toFixed(2)} (target ≤ 1.3)`);
  rows.push({ what: `RSS growth ${fmt(N.small)} → ${fmt(N.sqlite)}: ×${growth.toFixed(2)}`, result: large, baseline: { name: "small", result: small } });
  if (growth > 1.3) failures.push(`RSS grew ×${growth.toFixed(2)} from ${N.small} to ${N.sqlite} records`);
}

async function http() {
  console.log(`\n## paginated local HTTP API (1,000 records a page) → SQLite (${fmt(N.http)} records)`);
  const api = await startFaultyApi({ records: N.http, pageSize: 1000 });
  try {
    const args = { url: api.url, token: api.token };
    const bare = await runCase("http-bare", N.http, args);
    const mako = await runCase("http-mako", N.http, { ...args, bytes: bare.bytes });
    const naive = await runCase("http-naive", N.naive, args);
    // The bare load of the same rows: SQLite's prepared upsert (from the same run).
    const load = await runCase("sqlite-bare", N.http);
    const slower = rate(bare) < rate(load) ? { name: "bare fetch", result: bare } : { name: "bare load", result: load };
    report({ what: "mako: HTTP → SQLite", result: mako, baseline: slower, target: 0.6 });
    report({ what: "mako: HTTP → SQLite (vs naive)", result: mako, baseline: { name: "naive loop", result: naive }, target: 5 });
    report({ what: "bare fetch + JSON.parse", result: bare });
    report({ what: "naive fetch + row-by-row insert", result: naive });
  } finally {
    await api.close();
  }
}

async function bigquery() {
  console.log(`\n## BigQuery query results (local fake, 1,000 rows a page) → SQLite (${fmt(N.bigquery)} records)`);
  const source = await startBigQueryBench(N.bigquery);
  try {
    const args = { api: source.fake.apiUrl, keyFile: source.keyFile };
    const bare = await runCase("bigquery-bare", N.bigquery, args);
    const mako = await runCase("bigquery-mako", N.bigquery, { ...args, bytes: bare.bytes });
    const load = await runCase("sqlite-bare", N.bigquery);
    const slower = rate(bare) < rate(load) ? { name: "bare fetch + decode", result: bare } : { name: "bare load", result: load };
    report({ what: "mako: BigQuery → SQLite", result: mako, baseline: slower, target: 0.6 });
    report({ what: "mako: BigQuery (vs fetch + decode)", result: mako, baseline: { name: "bare fetch + decode", result: bare } });
    report({ what: "bare fetch + decode (same pages)", result: bare });
  } finally {
    await source.close();
  }
}

async function servers() {
  console.log(`\n## sample users → server destinations (${fmt(N.servers)} records)`);
  for (const kind of ["postgres", "mysql", "duckdb"]) {
    const result = await runCase(kind, N.servers, {}, "serverCases.ts");
    const { bare, mako } = result as unknown as { bare: CaseResult; mako: CaseResult };
    report({ what: `mako → ${kind}`, result: mako, baseline: { name: `bare ${bare.method}`, result: bare }, target: 0.7 });
  }
}

async function webhooks() {
  console.log(`\n## webhook inbox: signed Stripe events stored through POST /hooks/NAME (${fmt(N.webhooks)} events)`);
  for (const store of ["sqlite", "postgres"]) {
    const bare = await runCase("bare", N.webhooks, { store }, "webhookCases.ts");
    const endpoint = await runCase("endpoint", N.webhooks, { store }, "webhookCases.ts");
    report({ what: `webhooks → ${store} inbox`, result: endpoint, baseline: { name: "bare insert", result: bare } });
  }
  console.log(`\n## webhook event received → row visible through mako serve, ${fmt(N.webhookLatency)} events at 50/s`);
  for (const store of ["sqlite", "postgres"]) {
    const latency = await runCase("latency", N.webhookLatency, { rate: 50, store }, "webhookCases.ts");
    const { p50, p99, max } = latency.latencyMs!;
    const ok = p99 < 2000;
    if (!ok) failures.push(`webhook → row visible (${store}) p99 ${p99} ms ≥ 2000 ms`);
    console.log(`${`webhook → row visible, ${store}`.padEnd(34)} p50 ${p50} ms, p99 ${p99} ms, max ${max} ms ${ok ? "ok (p99 < 2 s)" : "ABOVE 2 s"}`);
    rows.push({ what: `webhook → row visible, ${store} (ms)`, result: latency });
  }
}

async function workers() {
  console.log(`\n## paginated local HTTP API → PostgreSQL, three sources of ${fmt(N.workers)} records: mako worker beside mako sync`);
  const { single, oneWorker, threeWorkers } = await benchWorkers(N.workers);
  report({ what: "1 × mako worker, 3 sources", result: oneWorker, baseline: { name: "mako sync one by one", result: single } });
  report({ what: "3 × mako worker, 3 sources", result: threeWorkers, baseline: { name: "mako sync one by one", result: single } });
  report({ what: "3 × mako worker, 3 sources", result: threeWorkers, baseline: { name: "1 × mako worker", result: oneWorker } });
  report({ what: "mako sync, 3 sources one by one", result: single });
}

/** Start-up of the `mako` command against `node -e 0`, and the whole sync process's peak RSS. */
async function cli() {
  const runs = quick ? 5 : 15;
  console.log(`\n## the mako command: start-up (median of ${runs} runs), sync peak RSS, time to fail on an unreachable source`);
  const { medians } = measureStartup({ "mako --help": ["--help"], "mako sources list": ["sources", "list"] }, runs);
  const node = medians["node -e 0"];
  for (const [name, ms] of Object.entries(medians)) {
    const ratio = ms / node;
    const verdict = name === "node -e 0" ? "" : ratio <= 3 ? "ok (≤ 3)" : "ABOVE 3";
    if (verdict === "ABOVE 3") failures.push(`${name}: ${ratio.toFixed(2)}× node -e 0 > 3`);
    console.log(`${name.padEnd(34)} ${ms.toFixed(0).padStart(6)} ms  ×${ratio.toFixed(2)} ${verdict}`);
  }
  const sync = await measureSyncProcess(N.sqlite);
  const verdict = sync.peakRssMb < 300 ? "ok (< 300 MB)" : "ABOVE 300 MB";
  if (sync.peakRssMb >= 300) failures.push(`mako sync process peak RSS ${fmt(sync.peakRssMb)} MB ≥ 300 MB`);
  console.log(`${`mako sync, ${fmt(N.sqlite)} sample users`.padEnd(34)} ${sync.seconds.toFixed(1).padStart(6)} s   peak RSS ${fmt(sync.peakRssMb)} MB ${verdict}`);
  const unreachable = await measureUnreachableSync();
  for (const [name, seconds] of Object.entries(unreachable)) {
    const ok = seconds < 15;
    if (!ok) failures.push(`mako sync of a Stripe source at a ${name}: ${seconds.toFixed(1)} s ≥ 15 s`);
    console.log(`${`mako sync, Stripe at a ${name}`.padEnd(34)} ${seconds.toFixed(1).padStart(6)} s   to fail ${ok ? "ok (< 15 s)" : "ABOVE 15 s"}`);
  }
  cliFigures = { startupMs: medians, syncPeakRssMb: sync.peakRssMb, syncSeconds: sync.seconds, unreachableSyncSeconds: unreachable };
}
let cliFigures: unknown;

async function limiter() {
  const seconds = quick ? 3 : 15;
  console.log(`\n## rate limit shared in PostgreSQL vs in-process, 3 processes on one key (${seconds} s each)`);
  const { paced, saturation } = await benchLimiter(seconds);
  const ms = (v?: number) => (v === undefined ? "–" : v.toFixed(2));
  const name = (f: LimiterFigures) => (f.mode === "shared" ? "shared (PostgreSQL)" : "in-process bucket");
  for (const f of paced) {
    console.log(`${`at 100 req/s: ${name(f)}`.padEnd(42)} ${fmt(f.slotsPerSecond).padStart(7)} slots/s  overhead beyond the scheduled wait p50 ${ms(f.overheadP50Ms)} ms, p99 ${ms(f.overheadP99Ms)} ms`);
  }
  for (const f of saturation) console.log(`${`saturation: ${name(f)}`.padEnd(42)} ${fmt(f.slotsPerSecond).padStart(7)} slots/s`);
  const [shared, local] = saturation;
  console.log(`shared saturation / 100 req/s: ×${fmt(shared.slotsPerSecond / 100)}; in-process / shared: ×${fmt(local.slotsPerSecond / shared.slotsPerSecond)}`);
  for (const f of [...paced, ...saturation]) {
    rows.push({
      what: `limiter ${f.mode} ${f.overheadP50Ms === undefined ? "saturation" : "at 100 req/s"}`,
      result: { records: f.slotsPerSecond * seconds, seconds, bytes: 0, peakRssMb: 0, method: JSON.stringify(f) },
    });
  }
}

const started = Date.now();
console.log(`Mako benchmarks — ${new Date().toISOString()} — node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? arch()}, ${fmt(totalmem() / 2 ** 30)} GiB`);
for (const [name, fn] of Object.entries({ sqlite, http, bigquery, servers, memory, webhooks, workers, cli, limiter })) {
  if (!only.includes(name)) continue;
  try {
    await fn();
  } catch (err) {
    crashed = true;
    failures.push(`${name}: ${err.message}`);
    console.log(`${name}: FAILED — ${err.message}`);
  }
}
console.log(`\n${failures.length ? `targets missed:\n- ${failures.join("\n- ")}` : "all targets met"} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
mkdirSync(join(here, "out"), { recursive: true });
writeFileSync(join(here, "out", "latest.json"), JSON.stringify({ date: new Date().toISOString(), quick, rows, cli: cliFigures, failures }, null, 2));
// Quick runs (CI) prove the bench works; targets are judged on full runs only.
process.exitCode = crashed || (!quick && failures.length > 0) ? 1 : 0;
