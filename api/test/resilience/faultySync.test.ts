// The "done when": a guide-style connector (no retry code of its own) syncs 20,000
// records from a rate-limited, failing fake API, SIGKILLed 5 times, and ends exactly equal to
// the source — having sent no request while the server had told it to wait.
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { startFaultyApi, type FakeRecord, type FaultyApi } from "../../../bench/fakes/faultyApi";
import { RecordsApiConnector } from "../../../bench/connectors/RecordsApiConnector";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import { SyncEngine } from "../../src/sync/SyncEngine";
import type { RunResult } from "../../src/sync/events";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");
const childScript = join(here, "syncRecordsChild.ts");
const RECORDS = 20_000;
const PAGE = 100;
const LIMIT = 50;
const KILLS = 5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

interface ChildRun {
  child: ReturnType<typeof spawn>;
  /** Records committed so far by this process. */
  committed: () => number;
  /** The request counters it last reported (a killed child's are lost after its last line). */
  stats: () => RunResult["stats"];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; result?: RunResult; stderr: string }>;
}

function startChild(db: string, api: FaultyApi, settings: object): ChildRun {
  const child = spawn(process.execPath, ["--import", "tsx", childScript, db, JSON.stringify({ base_url: api.url, token: api.token }), JSON.stringify(settings)], {
    cwd: repo,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let committed = 0;
  let stats: RunResult["stats"] = { requests: 0, retries: 0, rateLimited: 0, waitMs: 0 };
  let result: RunResult | undefined;
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
    const lines = stdout.split("\n");
    stdout = lines.pop()!;
    for (const line of lines) {
      const msg = JSON.parse(line) as { committed?: number; stats?: RunResult["stats"]; result?: RunResult };
      if (msg.committed !== undefined) committed = msg.committed;
      if (msg.stats) stats = msg.stats;
      if (msg.result) result = msg.result;
    }
  });
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; result?: RunResult; stderr: string }>((ok) =>
    child.on("close", (code, signal) => ok({ code, signal, result, stderr })),
  );
  return { child, committed: () => committed, stats: () => stats, exited };
}

/** The source's records as the SQLite destination stores them (booleans 0/1, objects as JSON). */
function stored(record: FakeRecord): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).map(([k, v]) => [k, typeof v === "boolean" ? Number(v) : v !== null && typeof v === "object" ? JSON.stringify(v) : v]),
  );
}

describe("a guide-style connector against a rate-limited, failing API, SIGKILLed and resumed", () => {
  it(`syncs ${RECORDS} records at ${LIMIT} req/s with 5% 500s and 2% drops, killed ${KILLS} times, exactly equal to the source`, async () => {
    const api = await startFaultyApi({
      records: RECORDS,
      seed: 11,
      faults: { rateLimit: { requestsPerSecond: LIMIT, burst: LIMIT }, errorRate: 0.05, dropRate: 0.02 },
    });
    const dir = mkdtempSync(join(tmpdir(), "mako-faulty-"));
    dirs.push(dir);
    const db = join(dir, "sync.db");
    // One request in flight: then a request during the server's penalty can only mean the client disobeyed.
    const settings = { batchSize: PAGE, maxIterations: 5, maxConcurrentRequests: 1 };
    const totals = { requests: 0, retries: 0, rateLimited: 0, waitMs: 0 };
    const add = (s: RunResult["stats"]) => Object.keys(totals).forEach((k) => (totals[k as keyof typeof totals] += s[k as keyof typeof totals]));
    let kills = 0;
    let runs = 0;
    let syncSeconds = 0;
    let final: RunResult | undefined;
    const started = Date.now();
    try {
      for (let attempt = 0; !final && attempt < KILLS + 5; attempt++) {
        runs++;
        const runStarted = Date.now();
        const run = startChild(db, api, settings);
        let done = false;
        void run.exited.then(() => (done = true));
        if (kills < KILLS) {
          // Kill at a random moment once this process has committed something.
          while (!done && run.committed() === 0) await sleep(10);
          if (!done) {
            await sleep(Math.random() * 400);
            if (!done) {
              run.child.kill("SIGKILL");
              kills++;
            }
          }
        }
        const exit = await run.exited;
        syncSeconds += (Date.now() - runStarted) / 1000;
        add(exit.result?.stats ?? run.stats());
        if (exit.signal === "SIGKILL") {
          // A killed client cannot know of a 429 its last request got; the next process would
          // walk into that penalty. Let any Retry-After (≤ 1 s from a 50/s bucket) run out.
          await sleep(1100);
          continue;
        }
        expect(exit.code, exit.stderr).toBe(0);
        final = exit.result;
      }
      const wallSeconds = (Date.now() - started) / 1000;
      expect(kills).toBe(KILLS);
      expect(final?.status).toBe("succeeded");

      // Exactly the source: every record, every field, no duplicate key, nothing marked deleted.
      const sqlite = new Database(db, { readonly: true });
      try {
        const rows = sqlite.prepare(`SELECT * FROM faulty__records`).all() as Record<string, unknown>[];
        const source = api.records;
        expect(source).toHaveLength(RECORDS);
        expect(rows).toHaveLength(RECORDS);
        expect(new Set(rows.map((r) => r.id)).size).toBe(RECORDS);
        const byId = new Map(rows.map((r) => [r.id, r]));
        for (const record of source) {
          const { _mako_synced_at, _mako_deleted_at, _mako_version, ...fields } = byId.get(record.id) ?? {};
          expect(_mako_deleted_at ?? null).toBeNull();
          expect(fields).toEqual(stored(record));
        }
      } finally {
        sqlite.close();
      }

      expect(api.stats.requestsDuringPenalty).toBe(0);
      expect(api.stats.maxInFlight).toBe(1);
      const ideal = RECORDS / (PAGE * LIMIT);
      console.log(
        `[faulty sync] ${RECORDS} records, page ${PAGE}, limit ${LIMIT} req/s, 5% 500s, 2% drops, ${kills} SIGKILLs, ${runs} processes\n` +
          `  server: ${api.stats.requests} requests, ${api.stats.rateLimited} 429s, ${api.stats.errors500} 500s, ${api.stats.drops} drops, ` +
          `${api.stats.requestsDuringPenalty} requests during a penalty, ${api.stats.recordsServed} records served\n` +
          `  clients (as last reported by each process): ${totals.requests} requests, ${totals.retries} retries, ${totals.rateLimited} 429s, ` +
          `${(totals.waitMs / 1000).toFixed(1)} s waiting\n` +
          `  wall ${wallSeconds.toFixed(1)} s (${syncSeconds.toFixed(1)} s in sync processes, incl. ~${runs} process starts; ` +
          `${kills * 1.1} s pausing after kills) vs ideal ${ideal.toFixed(1)} s = records / (page × limit)`,
      );
    } finally {
      await api.close();
    }
  }, 90_000);

  it("uninterrupted, in one process: the wall time against the ideal, and no request during a penalty", async () => {
    const api = await startFaultyApi({
      records: RECORDS,
      seed: 12,
      faults: { rateLimit: { requestsPerSecond: LIMIT, burst: LIMIT }, errorRate: 0.05, dropRate: 0.02 },
    });
    const destination = SqliteDestination.open(":memory:");
    try {
      const settings = { batchSize: PAGE, maxIterations: 5, maxConcurrentRequests: 1 };
      const connector = new RecordsApiConnector({ name: "faulty_uninterrupted", config: { base_url: api.url, token: api.token }, settings });
      const started = Date.now();
      const result = await new SyncEngine().run({ runId: "uninterrupted", namespace: "faulty", connector, destination, settings });
      const wallSeconds = (Date.now() - started) / 1000;
      expect(result.status, result.error).toBe("succeeded");
      expect(result.entities[0].records).toBe(RECORDS);
      expect(api.stats.requestsDuringPenalty).toBe(0);
      // Every 500 and drop was retried by the shared client, not by the connector or the engine.
      expect(result.stats.retries).toBe(api.stats.errors500 + api.stats.drops + api.stats.rateLimited);
      expect(result.entities[0].chunkRetries).toBe(0);
      const ideal = RECORDS / (PAGE * LIMIT);
      console.log(
        `[faulty sync, uninterrupted] ${RECORDS} records: ${result.stats.requests} requests, ${result.stats.retries} retries ` +
          `(${api.stats.errors500} 500s, ${api.stats.drops} drops), ${result.stats.rateLimited} 429s, ` +
          `${(result.stats.waitMs / 1000).toFixed(1)} s waiting; wall ${wallSeconds.toFixed(1)} s vs ideal ${ideal.toFixed(1)} s`,
      );
      // The ideal plus the backoffs the faults cost, with room for a loaded machine.
      expect(wallSeconds).toBeLessThan(ideal + result.stats.waitMs / 1000 + 10);
    } finally {
      await destination.close();
      await api.close();
    }
  }, 60_000);
});
