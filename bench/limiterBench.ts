// The shared rate limit's cost: three processes on one key of the PostgreSQL-backed limiter
// beside three processes each on its own in-process token bucket, in the same run.
//  - overhead: time to get a slot beyond its scheduled wait, at 100 req/s in all (p50, p99);
//  - saturation: slots per second the three processes get at a rate and burst too high to bind
//    (a million a second: the in-process bucket then costs only its promise hops).
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const here = dirname(fileURLToPath(import.meta.url));
const SERVER = "postgres://postgres@127.0.0.1:5432";
const PROCESSES = 3;

export interface LimiterFigures {
  mode: "shared" | "local";
  /** Slots per second, all processes together. */
  slotsPerSecond: number;
  overheadP50Ms?: number;
  overheadP99Ms?: number;
}

interface CaseOutput {
  slots: number;
  seconds: number;
  overheadsMs: number[];
}

function runCase(args: string[]): Promise<CaseOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(here, "limiterCase.ts"), ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", (code) => {
      const line = out.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) return reject(new Error(`limiter case ${args[0]} failed (exit ${code})`));
      resolve(JSON.parse(line));
    });
  });
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

/** Three processes at once on `rate` in all (each local one at a third of it: one budget each). */
async function measure(mode: "shared" | "local", url: string, key: string, rate: number, burst: number, seconds: number): Promise<LimiterFigures> {
  // Processes load tsx and connect before this instant, so they start together.
  const startAt = Date.now() + 4000;
  const perProcess = mode === "local" ? rate / PROCESSES : rate;
  const outputs = await Promise.all(
    Array.from({ length: PROCESSES }, () => runCase([mode, url, key, String(perProcess), String(burst), String(startAt), String(seconds)])),
  );
  const slots = outputs.reduce((n, o) => n + o.slots, 0);
  const elapsed = Math.max(...outputs.map((o) => o.seconds));
  const overheads = outputs.flatMap((o) => o.overheadsMs).sort((a, b) => a - b);
  return {
    mode,
    slotsPerSecond: slots / elapsed,
    overheadP50Ms: overheads.length ? percentile(overheads, 0.5) : undefined,
    overheadP99Ms: overheads.length ? percentile(overheads, 0.99) : undefined,
  };
}

export async function benchLimiter(seconds: number): Promise<{ paced: LimiterFigures[]; saturation: LimiterFigures[] }> {
  const database = `mako_bench_limiter_${process.pid}`;
  const admin = new pg.Client({ connectionString: `${SERVER}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = `${SERVER}/${database}`;
  try {
    const paced = [await measure("shared", url, "bench:paced", 100, 1, seconds), await measure("local", url, "bench:paced", 100, 1, seconds)];
    const saturation = [
      await measure("shared", url, "bench:saturation", 1e6, 1e6, seconds),
      await measure("local", url, "bench:saturation", 1e6, 1e6, seconds),
    ];
    return { paced, saturation };
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
}
