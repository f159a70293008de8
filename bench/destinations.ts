// Destination benchmark: for N sample users, each server database's bare bulk path beside the
// same rows written through Mako's Destination (10,000-record chunks with checkpoints, as the
// engine writes them). Both sides generate the records the same way, on the fly, so memory
// stays flat and the generator's cost is in both.

import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import mysql from "mysql2/promise";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { generateUser } from "../api/src/connectors/sample/generate";
import type { Destination, EntityCheckpoint } from "../api/src/destinations/Destination";
import { openDestination } from "../api/src/destinations/factory";

export type ServerKind = "postgres" | "mysql" | "duckdb";

export interface Measure {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** Megabytes of the records' JSON per second. */
  mbPerSecond: number;
  peakRssMb: number;
  /** CPU time this process (the client side) spent. */
  clientCpuSeconds: number;
  /** How the bare path was run, e.g. "multi-row upsert ×1000, 2 connections". */
  method: string;
}

export interface DestinationBenchResult {
  kind: ServerKind;
  bare: Measure;
  mako: Measure;
  /** mako / bare records per second (target ≥ 0.7). */
  ratio: number;
}

export interface DestinationBenchOptions {
  records: number;
  kinds?: ServerKind[];
  postgresUrl?: string;
  mysqlUrl?: string;
  /** Runs of each path, alternated; the best is kept. Default 2. */
  rounds?: number;
  /** Progress lines (each measurement as it ends). */
  log?: (line: string) => void;
}

const SEED = 7;
const CHUNK = 10_000;
export const DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";
export const DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/test";

/** Runs the bare path and the Destination path of each server database on `records` users. */
export async function benchDestinations(options: DestinationBenchOptions): Promise<DestinationBenchResult[]> {
  const kinds = options.kinds ?? ["postgres", "mysql", "duckdb"];
  const log = options.log ?? (() => {});
  const bytes = jsonBytes(options.records);
  const results: DestinationBenchResult[] = [];
  for (const kind of kinds) {
    // Alternate the paths and keep each one's best run: on a shared machine the load drifts.
    let bare: Measure | undefined;
    let mako: Measure | undefined;
    for (let round = 0; round < (options.rounds ?? 2); round++) {
      for (const path of BARE[kind]) {
        const m = await measure(bytes, () => path(options));
        log(`${kind} bare: ${describe(m)}`);
        bare = better(bare, m);
      }
      const m = await measure(bytes, () => throughDestination(kind, options));
      log(`${kind} mako: ${describe(m)}`);
      mako = better(mako, m);
    }
    results.push({ kind, bare: bare!, mako: mako!, ratio: mako!.recordsPerSecond / bare!.recordsPerSecond });
  }
  return results;
}

/** The faster measure, with the higher peak RSS of the two (memory is judged at its worst). */
function better(a: Measure | undefined, b: Measure): Measure {
  if (!a) return b;
  const best = b.recordsPerSecond > a.recordsPerSecond ? b : a;
  return { ...best, peakRssMb: Math.max(a.peakRssMb, b.peakRssMb) };
}

function describe(m: Measure): string {
  return `${Math.round(m.recordsPerSecond)} rec/s, ${m.mbPerSecond.toFixed(1)} MB/s, peak RSS ${m.peakRssMb} MB, client CPU ${m.clientCpuSeconds.toFixed(1)} s (${m.method})`;
}

async function measure(bytes: number, run: () => Promise<{ records: number; method: string }>): Promise<Measure> {
  globalThis.gc?.();
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  const started = performance.now();
  const cpu = process.cpuUsage();
  try {
    const { records, method } = await run();
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, process.memoryUsage.rss());
    return {
      records,
      seconds,
      recordsPerSecond: records / seconds,
      mbPerSecond: bytes / 1e6 / seconds,
      peakRssMb: Math.round(peak / 1e6),
      clientCpuSeconds: (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1e6,
      method,
    };
  } finally {
    clearInterval(timer);
  }
}

function jsonBytes(records: number): number {
  let bytes = 0;
  for (let i = 1; i <= records; i++) bytes += JSON.stringify(generateUser(i, SEED)).length;
  return bytes;
}

function users(from: number, to: number): Record<string, unknown>[] {
  const out = new Array(to - from);
  for (let i = from; i < to; i++) out[i - from] = generateUser(i, SEED);
  return out;
}

/** A chunk as the engine gathers it: pages of 1,000 records arriving one event-loop turn apart. */
async function pagedUsers(from: number, to: number): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (let i = from; i < to; i += 1000) {
    for (const u of users(i, Math.min(to, i + 1000))) out.push(u);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return out;
}

/** Hands out [from, to) ranges of record indexes (1-based) to parallel workers. */
function ranges(records: number, size: number): () => [number, number] | null {
  let next = 1;
  return () => {
    if (next > records) return null;
    const from = next;
    next = Math.min(records + 1, next + size);
    return [from, next];
  };
}

// --- through Mako's Destination --------------------------------------------------------

async function throughDestination(kind: ServerKind, options: DestinationBenchOptions) {
  const runId = `bench-${Date.now()}`;
  const namespace = `mako_bench_${process.pid}`;
  const ref = { namespace, entity: "users" };
  const dir = kind === "duckdb" ? mkdtempSync(join(tmpdir(), "mako-bench-")) : "";
  const url = kind === "postgres" ? options.postgresUrl ?? DEFAULT_POSTGRES_URL : kind === "mysql" ? options.mysqlUrl ?? DEFAULT_MYSQL_URL : join(dir, "bench.duckdb");
  const destination = await openDestination({ kind, url });
  try {
    await dropNamespace(destination, namespace);
    const passStartedAt = new Date().toISOString();
    const next = ranges(options.records, CHUNK);
    const inFlight: Promise<void>[] = [];
    let seq = 0;
    let committed = 0;
    // Like the engine: chunks issued in order, at most writeConcurrency of them in flight.
    for (let range = next(); range; range = next()) {
      const records = await pagedUsers(range[0], range[1]);
      committed += records.length;
      const checkpoint: EntityCheckpoint = {
        runId,
        seq: ++seq,
        mode: "incremental",
        since: null,
        passStartedAt,
        fetchState: { hasMore: range[1] <= options.records, offset: range[1] - 1 },
        maxCursor: null,
        highWaterMark: null,
        records: committed,
      };
      while (inFlight.length >= destination.writeConcurrency) await inFlight.shift();
      const write = destination.writeChunk({ table: ref, primaryKey: ["id"], records, checkpoint, syncedAt: new Date().toISOString() });
      write.catch(() => {});
      inFlight.push(write);
    }
    for (const write of inFlight) await write;
    const saved = await destination.loadCheckpoint(ref);
    if (saved?.records !== options.records) throw new Error(`${kind}: checkpoint says ${saved?.records} records, expected ${options.records}`);
    await dropNamespace(destination, namespace);
    return { records: options.records, method: `Destination.writeChunk ×${CHUNK}, ${destination.writeConcurrency} in flight` };
  } finally {
    await destination.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** Removes the bench namespace's tables and Mako's bookkeeping of them. */
async function dropNamespace(destination: Destination, namespace: string): Promise<void> {
  await (destination as Destination & { dropNamespace(ns: string): Promise<void> }).dropNamespace(namespace);
}

// --- bare bulk paths -------------------------------------------------------------------

type BarePath = (o: DestinationBenchOptions) => Promise<{ records: number; method: string }>;
/** Each database's candidate bare bulk paths: the baseline is the fastest of them. */
const BARE: Record<ServerKind, BarePath[]> = {
  postgres: [barePostgresMultiRow, barePostgresCopy],
  mysql: [bareMysql],
  duckdb: [bareDuckdb],
};

const PG_COLUMNS = [
  ["id", "bigint"],
  ["name", "text"],
  ["email", "text"],
  ["plan", "text"],
  ["is_active", "boolean"],
  ["score", "double precision"],
  ["address", "jsonb"],
  ["tags", "jsonb"],
  ["created_at", "text"],
  ["updated_at", "text"],
] as const;

function userRow(u: Record<string, unknown>, out: unknown[], p: number): number {
  out[p++] = u.id;
  out[p++] = u.name;
  out[p++] = u.email;
  out[p++] = u.plan;
  out[p++] = u.is_active;
  out[p++] = u.score;
  out[p++] = JSON.stringify(u.address);
  out[p++] = JSON.stringify(u.tags);
  out[p++] = u.created_at;
  out[p++] = u.updated_at;
  return p;
}

/** PostgreSQL: a prepared 1,000-row multi-row upsert, autocommitted, on two connections. */
async function barePostgresMultiRow(options: DestinationBenchOptions) {
  const url = options.postgresUrl ?? DEFAULT_POSTGRES_URL;
  const table = `mako_bare_${process.pid}`;
  const clients = [new pg.Client(url), new pg.Client(url)];
  await Promise.all(clients.map((c) => c.connect()));
  try {
    await clients[0].query(`DROP TABLE IF EXISTS ${table}`);
    await clients[0].query(
      `CREATE TABLE ${table} (${PG_COLUMNS.map(([n, t]) => `${n} ${t}`).join(", ")}, synced_at timestamptz, PRIMARY KEY (id))`,
    );
    const width = PG_COLUMNS.length + 1;
    const statement = (rows: number) => {
      const tuples = [];
      for (let r = 0, p = 1; r < rows; r++) tuples.push(`(${Array.from({ length: width }, () => `$${p++}`).join(",")})`);
      const updates = [...PG_COLUMNS.slice(1).map(([n]) => n), "synced_at"].map((n) => `${n} = EXCLUDED.${n}`);
      return `INSERT INTO ${table} VALUES ${tuples.join(",")} ON CONFLICT (id) DO UPDATE SET ${updates.join(", ")}`;
    };
    const full = statement(1000);
    const next = ranges(options.records, 1000);
    const now = new Date().toISOString();
    await Promise.all(
      clients.map(async (client) => {
        for (let range = next(); range; range = next()) {
          const rows = users(range[0], range[1]);
          const values = new Array(rows.length * width);
          let p = 0;
          for (const u of rows) {
            p = userRow(u, values, p);
            values[p++] = now;
          }
          await client.query(rows.length === 1000 ? { name: "bare_upsert", text: full, values } : { text: statement(rows.length), values });
        }
      }),
    );
    await clients[0].query(`DROP TABLE ${table}`);
    return { records: options.records, method: "prepared multi-row upsert ×1000, 2 connections" };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** COPY text format: backslash, tab, newline and carriage return escaped; null as \N. */
function copyField(v: unknown): string {
  if (v == null) return "\\N";
  const text = typeof v === "string" ? v : String(v);
  return /[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]) : text;
}
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/** PostgreSQL: COPY 10,000 rows into a temporary staging table, merged with INSERT … ON CONFLICT, on two connections. */
async function barePostgresCopy(options: DestinationBenchOptions) {
  const url = options.postgresUrl ?? DEFAULT_POSTGRES_URL;
  const table = `mako_bare_copy_${process.pid}`;
  const clients = [new pg.Client(url), new pg.Client(url)];
  await Promise.all(clients.map((c) => c.connect()));
  try {
    await clients[0].query(`DROP TABLE IF EXISTS ${table}`);
    const defs = `${PG_COLUMNS.map(([n, t]) => `${n} ${t}`).join(", ")}, synced_at timestamptz`;
    await clients[0].query(`CREATE TABLE ${table} (${defs}, PRIMARY KEY (id))`);
    const updates = [...PG_COLUMNS.slice(1).map(([n]) => n), "synced_at"].map((n) => `${n} = EXCLUDED.${n}`).join(", ");
    const next = ranges(options.records, 10_000);
    const now = new Date().toISOString();
    await Promise.all(
      clients.map(async (client) => {
        await client.query(`CREATE TEMP TABLE staging (${defs})`);
        for (let range = next(); range; range = next()) {
          const rows = await pagedUsers(range[0], range[1]);
          const lines: string[] = new Array(rows.length);
          const row: unknown[] = new Array(PG_COLUMNS.length);
          rows.forEach((u, i) => {
            userRow(u, row, 0);
            lines[i] = `${row.map(copyField).join("\t")}\t${now}\n`;
          });
          await client.query("BEGIN");
          await pipeline(Readable.from([lines.join("")]), client.query(copyFrom("COPY staging FROM STDIN")));
          await client.query(`INSERT INTO ${table} SELECT * FROM staging ON CONFLICT (id) DO UPDATE SET ${updates}`);
          await client.query("TRUNCATE staging");
          await client.query("COMMIT");
        }
      }),
    );
    await clients[0].query(`DROP TABLE ${table}`);
    return { records: options.records, method: "COPY ×10,000 into staging + merge, 2 connections" };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/** MySQL/MariaDB: multi-row INSERT … ON DUPLICATE KEY UPDATE of 1,000 rows, on two connections. */
async function bareMysql(options: DestinationBenchOptions) {
  const url = options.mysqlUrl ?? DEFAULT_MYSQL_URL;
  const table = `mako_bare_${process.pid}`;
  const conns = await Promise.all([mysql.createConnection(url), mysql.createConnection(url)]);
  try {
    await conns[0].query(`DROP TABLE IF EXISTS ${table}`);
    await conns[0].query(
      `CREATE TABLE ${table} (id BIGINT NOT NULL PRIMARY KEY, name LONGTEXT, email LONGTEXT, plan LONGTEXT, is_active BOOLEAN,
       score DOUBLE, address JSON, tags JSON, created_at LONGTEXT, updated_at LONGTEXT, synced_at DATETIME(6))`,
    );
    const cols = ["id", "name", "email", "plan", "is_active", "score", "address", "tags", "created_at", "updated_at", "synced_at"];
    const updates = cols.slice(1).map((c) => `${c} = VALUES(${c})`).join(", ");
    const next = ranges(options.records, 1000);
    const now = new Date().toISOString().replace("T", " ").replace("Z", "");
    await Promise.all(
      conns.map(async (conn) => {
        for (let range = next(); range; range = next()) {
          const rows = users(range[0], range[1]);
          const values: unknown[] = new Array(rows.length * cols.length);
          let p = 0;
          for (const u of rows) {
            p = userRow(u, values, p);
            values[p++] = now;
          }
          const tuple = `(${cols.map(() => "?").join(",")})`;
          const sql = `INSERT INTO ${table} (${cols.join(",")}) VALUES ${Array(rows.length).fill(tuple).join(",")} ON DUPLICATE KEY UPDATE ${updates}`;
          await conn.query(sql, values);
        }
      }),
    );
    await conns[0].query(`DROP TABLE ${table}`);
    return { records: options.records, method: "multi-row ODKU ×1000, 2 connections" };
  } finally {
    await Promise.all(conns.map((c) => c.end()));
  }
}

/** DuckDB: appender into a staging table, merged with INSERT … ON CONFLICT every 100,000 rows. */
async function bareDuckdb(options: DestinationBenchOptions) {
  const dir = mkdtempSync(join(tmpdir(), "mako-bench-bare-"));
  const instance = await DuckDBInstance.create(join(dir, "bare.duckdb"));
  const conn: DuckDBConnection = await instance.connect();
  try {
    const defs = `id BIGINT, name VARCHAR, email VARCHAR, plan VARCHAR, is_active BOOLEAN, score DOUBLE,
      address JSON, tags JSON, created_at VARCHAR, updated_at VARCHAR, synced_at TIMESTAMPTZ`;
    await conn.run(`CREATE TABLE users (${defs}, PRIMARY KEY (id))`);
    await conn.run(`CREATE TEMP TABLE staging (${defs})`);
    const cols = ["name", "email", "plan", "is_active", "score", "address", "tags", "created_at", "updated_at", "synced_at"];
    const merge = `INSERT INTO users SELECT * FROM staging ON CONFLICT (id) DO UPDATE SET ${cols.map((c) => `${c} = EXCLUDED.${c}`).join(", ")}`;
    const next = ranges(options.records, 100_000);
    const now = new Date().toISOString();
    for (let range = next(); range; range = next()) {
      await conn.run("BEGIN");
      const appender = await conn.createAppender("staging", "main", "temp");
      for (let i = range[0]; i < range[1]; i++) {
        const u = generateUser(i, SEED);
        appender.appendBigInt(BigInt(u.id));
        appender.appendVarchar(u.name);
        appender.appendVarchar(u.email);
        appender.appendVarchar(u.plan);
        appender.appendBoolean(u.is_active);
        appender.appendDouble(u.score);
        appender.appendVarchar(JSON.stringify(u.address));
        appender.appendVarchar(JSON.stringify(u.tags));
        appender.appendVarchar(u.created_at);
        appender.appendVarchar(u.updated_at);
        appender.appendVarchar(now);
        appender.endRow();
      }
      appender.closeSync();
      await conn.run(merge);
      await conn.run("DELETE FROM staging");
      await conn.run("COMMIT");
    }
    return { records: options.records, method: "appender + INSERT … ON CONFLICT merge ×100k, 1 connection" };
  } finally {
    conn.closeSync();
    instance.closeSync();
    rmSync(dir, { recursive: true, force: true });
  }
}
