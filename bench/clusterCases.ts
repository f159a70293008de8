// HTTP → PostgreSQL through `mako worker`: three REST sources on the local paginated API, synced
// by one worker, then by three, beside `mako sync` of the same sources one process at a time, all
// in the same run and each on sources of its own (every one a first sync). Whole processes, as a
// user runs them; the time runs from the first command to the last run's end.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { CaseResult } from "./cases";
import { startFaultyApi } from "./fakes/faultyApi";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(repo, "api", "bin", "mako.js");
const SERVER = "postgres://postgres@127.0.0.1:5432";
const SOURCES = 3;
const PAGE = 1000;

export interface WorkerBench {
  single: CaseResult;
  oneWorker: CaseResult;
  threeWorkers: CaseResult;
}

export async function benchWorkers(perSource: number): Promise<WorkerBench> {
  const database = `mako_bench_workers_${process.pid}`;
  const home = mkdtempSync(join(tmpdir(), "mako-bench-workers-"));
  const api = await startFaultyApi({ records: perSource, pageSize: PAGE });
  const admin = new pg.Client(`${SERVER}/postgres`);
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${database}`);
  const env = { ...process.env, MAKO_HOME: home, DATABASE_URL: `${SERVER}/${database}` };
  const mako = (args: string[]) => {
    const r = spawnSync(process.execPath, [bin, ...args], { env, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`mako ${args.join(" ")}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  const workers: ChildProcess[] = [];
  try {
    const config = {
      base_url: api.url,
      auth: { type: "bearer", token: api.token },
      paginator: { type: "cursor", cursor_path: "next_cursor", size_param: "limit", page_size: PAGE, has_more_path: "has_more" },
      records_path: "data",
      entities: [{ name: "records" }],
    };
    // No client-side limit: the API has none, and the bench measures the pipeline.
    const settings = { batchSize: PAGE, requestsPerSecond: 0 };
    const names = (group: string) => Array.from({ length: SOURCES }, (_, i) => `${group}_${i + 1}`);
    for (const group of ["single", "one", "three"]) {
      for (const name of names(group)) {
        mako(["sources", "add", name, "--connector", "rest", "--config-json", JSON.stringify(config), "--settings-json", JSON.stringify(settings), "--no-test"]);
      }
    }
    const records = perSource * SOURCES;
    const result = (method: string, seconds: number): CaseResult => ({ records, seconds, bytes: 0, peakRssMb: 0, method });

    let started = Date.now();
    // Not spawnSync: the API answering these requests runs in this process.
    for (const name of names("single")) await run(env, ["sync", name]);
    const single = result("mako sync, one source after the other", (Date.now() - started) / 1000);

    const viaWorkers = async (group: string, count: number): Promise<CaseResult> => {
      const running = Array.from({ length: count }, () => startWorker(env));
      workers.push(...running.map((w) => w.child));
      await Promise.all(running.map((w) => w.started));
      started = Date.now();
      const ids = await Promise.all(names(group).map(async (name) => (await run(env, ["sync", name, "--enqueue"])).trim()));
      await untilDone(`${SERVER}/${database}`, ids);
      const seconds = (Date.now() - started) / 1000;
      for (const w of running) w.child.kill("SIGTERM");
      await Promise.all(running.map((w) => new Promise((ok) => w.child.once("exit", ok))));
      return result(`${count} × mako worker`, seconds);
    };
    const oneWorker = await viaWorkers("one", 1);
    const threeWorkers = await viaWorkers("three", 3);
    return { single, oneWorker, threeWorkers };
  } finally {
    for (const w of workers) if (w.exitCode === null) w.kill("SIGKILL");
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
    await admin.end();
    await api.close();
    rmSync(home, { recursive: true, force: true });
  }
}

function startWorker(env: NodeJS.ProcessEnv): { child: ChildProcess; started: Promise<void> } {
  const child = spawn(process.execPath, [bin, "worker"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const started = new Promise<void>((ok, fail) => {
    child.stdout!.on("data", (d) => {
      out += d;
      if (/takes entity jobs/.test(out)) ok();
    });
    child.stderr!.on("data", (d) => (out += d));
    child.once("exit", (code) => fail(new Error(`mako worker exited with ${code}: ${out.trim()}`)));
  });
  return { child, started };
}

/** A mako command, awaited without blocking this process; its stdout. */
function run(env: NodeJS.ProcessEnv, args: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.once("exit", (code) => (code === 0 ? ok(out) : fail(new Error(`mako ${args.join(" ")}: ${err.trim()}`))));
  });
}

async function untilDone(url: string, runIds: string[]): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    for (;;) {
      const { rows } = await client.query<{ status: string; error: string | null }>(`SELECT status, error FROM mako.runs WHERE id = ANY($1)`, [runIds]);
      const failed = rows.find((r) => r.status !== "running" && r.status !== "succeeded");
      if (failed) throw new Error(`a run ${failed.status}: ${failed.error}`);
      if (rows.length === runIds.length && rows.every((r) => r.status === "succeeded")) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await client.end();
  }
}
