// Bad input through the whole engine: a fault that starts mid-sync ends the entity quickly
// with a clear error, the chunks committed before it stay with their checkpoint, and once the
// fault is gone the next run resumes there and ends equal to the source.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { RecordsApiConnector } from "../../../bench/connectors/RecordsApiConnector";
import { startFaultyApi, type FakeRecord, type FaultyApi, type Faults } from "../../../bench/fakes/faultyApi";
import type { Destination } from "../../src/destinations/Destination";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import { SyncEngine } from "../../src/sync/SyncEngine";
import type { RunResult } from "../../src/sync/events";

const here = dirname(fileURLToPath(import.meta.url));
const RECORDS = 1000;
const PAGE = 100;
/** The fault starts once this chunk has committed. */
const FAULT_AFTER_CHUNK = 3;
const NAMESPACE = "faulty";
const ref = { namespace: NAMESPACE, entity: "records" };

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

// Small retry budgets so a fault that outlasts them ends the run in a second or two.
const settings = { batchSize: PAGE, maxIterations: 1, maxRetries: 2, retryBaseDelayMs: 20, retryMaxDelayMs: 100, maxConcurrentRequests: 1 };
let sources = 0;

interface Setup {
  api: FaultyApi;
  db: string;
  destination: SqliteDestination;
  /** Each setup is its own data source, so no limiter state crosses from one case to the next. */
  sourceName: string;
}

async function setup(): Promise<Setup> {
  const api = await startFaultyApi({ records: RECORDS, seed: 5 });
  const dir = mkdtempSync(join(tmpdir(), "mako-badinput-"));
  dirs.push(dir);
  const db = join(dir, "sync.db");
  return { api, db, destination: SqliteDestination.open(db), sourceName: `bad_input_${++sources}` };
}

function sync(s: Setup, faultAfterChunk?: Partial<Faults>): Promise<RunResult> {
  const connector = new RecordsApiConnector({ name: s.sourceName, config: { base_url: s.api.url, token: s.api.token }, settings });
  return new SyncEngine().run({
    runId: `run_${Date.now()}`,
    namespace: NAMESPACE,
    connector,
    destination: s.destination,
    settings,
    hooks: faultAfterChunk && {
      afterCommit: (_entity, seq) => {
        if (seq === FAULT_AFTER_CHUNK) s.api.setFaults(faultAfterChunk);
      },
    },
  });
}

async function allRows(destination: Destination): Promise<Record<string, unknown>[]> {
  return destination.readRows(ref, { limit: 10 * RECORDS, offset: 0 });
}

/** A source record as the SQLite destination stores it (booleans 0/1, objects as JSON). */
function stored(record: FakeRecord): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(record).map(([k, v]) => [k, typeof v === "boolean" ? Number(v) : v !== null && typeof v === "object" ? JSON.stringify(v) : v]),
  );
}

/** The destination's rows, without system columns, in the source's order. */
function dataOf(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows
    .map(({ _mako_synced_at, _mako_deleted_at, _mako_version, ...fields }) => fields)
    .sort((a, b) => String(a.updated_at).localeCompare(String(b.updated_at)) || String(a.id).localeCompare(String(b.id)));
}

/** Runs the sync with the fault starting after chunk 3; checks the error, the time and what was kept. */
async function failMidway(s: Setup, fault: Partial<Faults>, error: RegExp, maxSeconds = 5): Promise<number> {
  const started = Date.now();
  const result = await sync(s, fault);
  const seconds = (Date.now() - started) / 1000;
  const entity = result.entities[0];
  expect(result.status).toBe("failed");
  expect(entity.status).toBe("failed");
  expect(entity.error).toMatch(error);
  expect(entity.error).not.toContain(s.api.token);
  expect(entity.error!.split("\n")).toHaveLength(1);
  expect(seconds).toBeLessThan(maxSeconds);

  // What committed before the fault is there, exactly the source's first records, with its checkpoint.
  const checkpoint = await s.destination.loadCheckpoint(ref);
  const rows = await allRows(s.destination);
  expect(checkpoint?.fetchState?.hasMore).toBe(true);
  expect(checkpoint?.records).toBe(rows.length);
  expect(rows.length).toBeGreaterThanOrEqual(FAULT_AFTER_CHUNK * PAGE);
  expect(rows.length).toBeLessThan(RECORDS);
  expect(dataOf(rows)).toEqual(s.api.records.slice(0, rows.length).map(stored));
  return rows.length;
}

/** With the fault gone, the next run resumes from the checkpoint: it reads only the rest. */
async function resumeToEqual(s: Setup, kept: number, clear: Partial<Faults>): Promise<void> {
  s.api.setFaults(clear);
  const result = await sync(s);
  expect(result.status, result.error).toBe("succeeded");
  expect(result.entities[0].resumed).toBe(true);
  expect(result.entities[0].records).toBe(RECORDS - kept);
  await expectEqualToSource(s);
}

async function expectEqualToSource(s: Setup): Promise<void> {
  const rows = await allRows(s.destination);
  expect(rows).toHaveLength(RECORDS);
  expect(rows.every((r) => r._mako_deleted_at === null)).toBe(true);
  expect(dataOf(rows)).toEqual(s.api.records.map(stored));
}

async function close(s: Setup): Promise<void> {
  await s.destination.close();
  await s.api.close();
}

const URL_OF_PAGE = /GET http:\/\/127\.0\.0\.1:\d+\/records\?limit=100&cursor=\S+/;

describe("bad input ends the entity with a clear error and the checkpoint intact", () => {
  it("non-JSON bodies on every response", async () => {
    const s = await setup();
    try {
      const kept = await failMidway(
        s,
        { nonJsonRate: 1 },
        new RegExp(`^${URL_OF_PAGE.source} returned a body that is not valid JSON \\(HTTP 200, .*\\): <html><head><title>502 Bad Gateway.* \\(gave up after 2 retries\\)$`),
      );
      await resumeToEqual(s, kept, { nonJsonRate: 0 });
    } finally {
      await close(s);
    }
  });

  it("truncated bodies on every response", async () => {
    const s = await setup();
    try {
      const kept = await failMidway(
        s,
        { truncateRate: 1 },
        new RegExp(`^${URL_OF_PAGE.source} returned a body that is not valid JSON \\(HTTP 200, \\d+ chars, .*\\): \\{"data":\\[\\{.* \\(gave up after 2 retries\\)$`),
      );
      expect(s.api.stats.truncated).toBeGreaterThanOrEqual(3);
      await resumeToEqual(s, kept, { truncateRate: 0 });
    } finally {
      await close(s);
    }
  });

  it("a page that repeats the previous cursor: a detected loop", async () => {
    const s = await setup();
    try {
      const kept = await failMidway(s, { repeatCursor: true }, /^entity "records": detected a loop — the source returned the same position \(.*"cursor":"\S+".*\) twice while claiming more records$/);
      await resumeToEqual(s, kept, { repeatCursor: false });
    } finally {
      await close(s);
    }
  });

  it("has_more: true with empty pages forever: a detected loop after settings.maxEmptyChunks", async () => {
    const s = await setup();
    try {
      const kept = await failMidway(
        s,
        { emptyPagesForever: true },
        /^entity "records": detected a loop — 10 chunks in a row returned no records while claiming more \(raise settings\.maxEmptyChunks if that is expected\)$/,
      );
      await resumeToEqual(s, kept, { emptyPagesForever: false });
    } finally {
      await close(s);
    }
  });

  it("records missing the primary key", async () => {
    const s = await setup();
    try {
      const kept = await failMidway(s, { missingIdRate: 1 }, /^entity "records": record 1 of chunk \d+ has no primary key "id"$/);
      await resumeToEqual(s, kept, { missingIdRate: 0 });
    } finally {
      await close(s);
    }
  });

  it("a Retry-After of hours: gives up at once; this process keeps honouring it, the next one resumes", async () => {
    const s = await setup();
    try {
      const kept = await failMidway(
        s,
        { retryAfterSeconds: 2 * 3600, script: ["429"] },
        new RegExp(`^${URL_OF_PAGE.source}: told to wait 2 ?h.* \\(Retry-After on HTTP 429\\), more than the .* allowed by settings\\.maxRetryAfterMs; giving up so the run ends with its checkpoint intact$`),
      );
      expect(s.api.stats.rateLimited).toBe(1);
      // The fault is gone, but in this process the data source was told to wait two hours:
      // a run now fails at once without sending a request.
      s.api.setFaults({ retryAfterSeconds: null, rateLimit: null });
      const before = s.api.stats.requests;
      const started = Date.now();
      const paused = await sync(s);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(paused.entities[0].error).toMatch(/told to wait/);
      expect(s.api.stats.requests).toBe(before);
      expect(await s.destination.loadCheckpoint(ref)).toMatchObject({ records: kept });

      // A new process (the next `mako sync`) resumes from the checkpoint and finishes.
      await s.destination.close();
      const child = spawn(
        process.execPath,
        ["--import", "tsx", join(here, "syncRecordsChild.ts"), s.db, JSON.stringify({ base_url: s.api.url, token: s.api.token }), JSON.stringify(settings)],
        { cwd: resolve(here, "../../.."), stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      child.stdout!.on("data", (c: Buffer) => (out += c.toString("utf8")));
      child.stderr!.on("data", (c: Buffer) => (out += c.toString("utf8")));
      const code = await new Promise<number | null>((ok) => child.on("close", ok));
      expect(code, out).toBe(0);
      const result = JSON.parse(out.trim().split("\n").filter((l) => l.startsWith('{"result"')).pop()!).result as RunResult;
      expect(result.entities[0]).toMatchObject({ resumed: true, records: RECORDS - kept });
      s.destination = SqliteDestination.open(s.db);
      await expectEqualToSource(s);
    } finally {
      await close(s);
    }
  }, 30_000);
});
