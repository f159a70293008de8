// What the cluster tests share: a fresh PostgreSQL database per test file, `mako` and
// `mako worker` as real child processes on it, and the comparison of synced tables.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = join(repo, "api/bin/mako.js");
export const SERVER = "postgres://postgres@127.0.0.1:5432";
/** The lease (heartbeat) the tests' workers use: short, so takeovers are quick. */
export const LEASE_SECONDS = 3;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** A database of its own for a test file, dropped at the end. */
export class TestDatabase {
  readonly name: string;
  readonly home = mkdtempSync(join(tmpdir(), "mako-cluster-"));
  readonly pool: pg.Pool;
  private readonly workers = new Set<WorkerProcess>();

  constructor(
    label: string,
    readonly server = SERVER,
  ) {
    this.name = `mako_${label}_${process.pid}_${Date.now().toString(36)}`;
    this.pool = new pg.Pool({ connectionString: this.url, max: 3 });
    this.pool.on("error", () => {});
  }

  get url(): string {
    return `${this.server}/${this.name}`;
  }

  async create(): Promise<void> {
    const admin = new pg.Client(`${this.server}/postgres`);
    try {
      await admin.connect();
    } catch (err) {
      throw new Error(`these tests need PostgreSQL at ${this.server} (user postgres): ${err.message}`);
    }
    await admin.query(`CREATE DATABASE ${this.name}`);
    await admin.end();
  }

  async drop(): Promise<void> {
    for (const w of this.workers) w.kill("SIGKILL");
    await this.pool.end().catch(() => {});
    const admin = new pg.Client(`${this.server}/postgres`);
    await admin.connect().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`).catch(() => {});
    await admin.end().catch(() => {});
    rmSync(this.home, { recursive: true, force: true });
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return { ...process.env, MAKO_HOME: this.home, DATABASE_URL: this.url, MAKO_LEASE_SECONDS: String(LEASE_SECONDS), ...extra };
  }

  mako(args: string[], extra: Record<string, string> = {}): Promise<Outcome> {
    return new Promise((ok) =>
      execFile(process.execPath, [bin, ...args], { cwd: repo, env: this.env(extra) }, (err, stdout, stderr) =>
        ok({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
      ),
    );
  }

  /** `mako worker` as a child process; `name` becomes its connections' application_name. */
  worker(name: string, options: { concurrency?: number; env?: Record<string, string> } = {}): WorkerProcess {
    const url = `${this.url}?application_name=${name}`;
    const child = spawn(process.execPath, [bin, "worker", "--concurrency", String(options.concurrency ?? 1)], {
      cwd: repo,
      env: this.env({ DATABASE_URL: url, ...options.env }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const worker = new WorkerProcess(name, child);
    this.workers.add(worker);
    return worker;
  }

  async query<T extends pg.QueryResultRow = Record<string, any>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query<T>(sql, params)).rows;
  }

  /** Waits until `check` returns something truthy, or fails after `ms` saying what it waited for. */
  async until<T>(what: string, check: () => Promise<T | undefined | null | false>, ms = 30_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      let value: T | undefined | null | false;
      try {
        value = await check();
      } catch {
        value = undefined; // the database may be restarting, or a table not made yet
      }
      if (value) return value;
      if (Date.now() > deadline) {
        const outputs = [...this.workers].map((w) => `--- ${w.name}:\n${w.output}`).join("\n");
        throw new Error(`timed out waiting for ${what}${outputs ? `\n${outputs}` : ""}`);
      }
      await sleep(100);
    }
  }

  /** Per entity table: rows, distinct keys, and a checksum of every column but _mako_synced_at and _mako_version (when each row was written and read). */
  async fingerprint(schema: string, entity: string): Promise<{ rows: number; keys: number; sum: string }> {
    const [row] = await this.query<{ rows: number; keys: number; sum: string }>(
      `SELECT count(*)::int AS rows, count(DISTINCT id)::int AS keys,
         md5(string_agg((to_jsonb(t) - '_mako_synced_at' - '_mako_version')::text, ',' ORDER BY id)) AS sum
       FROM "${schema}"."${entity}" AS t`,
    );
    return row;
  }

  /** The worker holding an entity's live lease. */
  async holder(source: string, entity: string): Promise<string | undefined> {
    const [row] = await this.query<{ holder: string }>(`SELECT holder FROM mako.leases WHERE source = $1 AND entity = $2 AND expires_at > now()`, [source, entity]);
    return row?.holder.split("#")[0];
  }

  async runEntity(runId: string, entity: string) {
    const [row] = await this.query<{ status: string; attempts: number; slices: number; workers: string[]; worker: string | null; result_json: { records: number } }>(
      `SELECT status, attempts, slices, workers, worker, result_json FROM mako.run_entities WHERE run_id = $1 AND entity = $2`,
      [runId, entity],
    );
    return row;
  }

  /** Records committed so far by an entity's checkpoint. */
  async committed(source: string, entity: string): Promise<number> {
    const [row] = await this.query<{ n: number }>(
      `SELECT coalesce((checkpoint::jsonb->>'records')::int, 0) AS n FROM _mako.state WHERE namespace = $1 AND entity = $2`,
      [source, entity],
    );
    return row?.n ?? 0;
  }
}

/** A running `mako worker`: its output so far, its id (`host/pid`), how it ended. */
export class WorkerProcess {
  output = "";
  readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.stdout!.on("data", (d) => (this.output += d));
    child.stderr!.on("data", (d) => (this.output += d));
    this.exited = new Promise((ok) => child.on("exit", (code) => ok(code)));
  }

  /** The id it registers with: what leases and run entities name. */
  get id(): string {
    return this.output.match(/worker (\S+) takes entity jobs/)?.[1] ?? `?/${this.child.pid}`;
  }

  async started(): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (!/takes entity jobs/.test(this.output)) {
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`worker ${this.name} did not start:\n${this.output}`);
      await sleep(50);
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

export const newHome = () => mkdtempSync(join(tmpdir(), "mako-cluster-home-"));
