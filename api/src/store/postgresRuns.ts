// Runs in PostgreSQL: a row per run, a row per run entity, and the liveness that any process
// judges on the database clock. Shared by PostgresStore and the workers (api/src/cluster/),
// which write the same rows inside their own transactions.

import { hostname } from "node:os";
import type pg from "pg";
import { emptyStats, type EntityResult, type RequestStats } from "../sync/events";
import { SourceBusyError, type RunRecord, type RunTrigger } from "./MetadataStore";
import { METADATA_SCHEMA as S } from "./postgresUrl";
import { type RunEntityRow, type RunRow, isAlive, notStarted, runFrom, storeMessages as say } from "./storeRows";

/** A pool or a client inside a transaction. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

const DEFAULT_LEASE_SECONDS = 15;
const MAX_LEASE_SECONDS = 3600;

/**
 * How long a silent run, worker or lease stays alive (MAKO_LEASE_SECONDS, default 15): a process
 * or worker that has not written its heartbeat for that long is taken for dead.
 */
export function leaseSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.MAKO_LEASE_SECONDS;
  if (text === undefined || text === "") return DEFAULT_LEASE_SECONDS;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > MAX_LEASE_SECONDS) {
    throw Object.assign(new Error(`MAKO_LEASE_SECONDS must be a number of seconds from 1 to ${MAX_LEASE_SECONDS} (got "${text.slice(0, 20)}")`), { retryable: false });
  }
  return seconds;
}

/**
 * Columns added to `runs` after the first release. Added only when missing: ALTER TABLE locks
 * the table whole even when the column exists, and every process opening the store would wait
 * for (and hold up) the progress writes of every worker.
 */
const ADDED_RUN_COLUMNS: Record<string, string> = {
  cancel_requested: "boolean NOT NULL DEFAULT false",
  executor: "text NOT NULL DEFAULT 'process'",
  heartbeat_at: "timestamptz",
  lease_seconds: "real",
  triggered_by: "text NOT NULL DEFAULT 'manual'",
};

export async function addRunColumns(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT attname AS name FROM pg_attribute WHERE attrelid = '${S}.runs'::regclass AND attnum > 0 AND NOT attisdropped`,
  );
  const have = new Set(rows.map((r) => r.name));
  for (const [name, type] of Object.entries(ADDED_RUN_COLUMNS)) {
    if (!have.has(name)) await client.query(`ALTER TABLE ${S}.runs ADD COLUMN ${name} ${type}`);
  }
}

/** The tables of runs' entities, the entities' leases and the workers; older databases migrated. */
export const postgresRunsDdl = `
  CREATE TABLE IF NOT EXISTS ${S}.run_entities (
    run_id text NOT NULL, entity text NOT NULL, position integer NOT NULL, status text NOT NULL, result_json jsonb NOT NULL,
    job_id uuid, worker text, workers jsonb NOT NULL DEFAULT '[]', attempts integer NOT NULL DEFAULT 0,
    slices integer NOT NULL DEFAULT 0, heartbeat_at timestamptz, PRIMARY KEY (run_id, entity));
  CREATE INDEX IF NOT EXISTS run_entities_live ON ${S}.run_entities (run_id) WHERE status IN ('queued', 'running');
  -- Databases from before kept a run's entities in one blob: moved to rows once (the column stays, emptied).
  INSERT INTO ${S}.run_entities (run_id, entity, position, status, result_json)
    SELECT r.id, e.value->>'entity', e.n - 1, e.value->>'status', e.value
    FROM ${S}.runs AS r, jsonb_array_elements(r.entities_json) WITH ORDINALITY AS e(value, n)
    WHERE r.entities_json <> '[]'::jsonb
    ON CONFLICT DO NOTHING;
  UPDATE ${S}.runs SET entities_json = '[]' WHERE entities_json <> '[]'::jsonb;
  CREATE TABLE IF NOT EXISTS ${S}.leases (
    source text NOT NULL, entity text NOT NULL, holder text NOT NULL, fence bigint NOT NULL, expires_at timestamptz NOT NULL,
    PRIMARY KEY (source, entity));
  CREATE TABLE IF NOT EXISTS ${S}.workers (
    id text PRIMARY KEY, host text NOT NULL, pid integer NOT NULL, concurrency integer NOT NULL, lease_seconds real NOT NULL,
    started_at timestamptz NOT NULL, heartbeat_at timestamptz NOT NULL, stopped_at timestamptz);`;

export interface NewRun {
  id: string;
  source: string;
  fullRefresh: boolean;
  destination: string | null;
  entities: string[];
  executor: RunRecord["executor"];
  /** Who asked for the run: by hand (CLI, API) or a schedule. */
  trigger: RunTrigger;
}

/**
 * Records a new run inside the caller's transaction; SourceBusyError while a live run holds the
 * source. The per-source lock, held to commit, keeps two processes from both seeing it free.
 */
export async function insertRun(client: pg.PoolClient, run: NewRun): Promise<void> {
  await client.query(`SELECT pg_advisory_xact_lock(hashtext('mako:run:' || $1))`, [run.source]);
  await reapDeadRuns(client);
  const busy = await client.query<{ id: string }>(`SELECT id FROM ${S}.runs WHERE source = $1 AND status = 'running'`, [run.source]);
  if (busy.rows[0]) throw new SourceBusyError(run.source, busy.rows[0].id);
  await client.query(
    `INSERT INTO ${S}.runs (id, source, status, full_refresh, destination, started_at, pid, host, stats_json, executor, heartbeat_at, lease_seconds, triggered_by)
     VALUES ($1, $2, 'running', $3, $4, now(), $5, $6, $7, $8, now(), $9, $10)`,
    [run.id, run.source, run.fullRefresh, run.destination, process.pid, hostname(), JSON.stringify(emptyStats()), run.executor, leaseSeconds(), run.trigger],
  );
  // A worker's entity waits in the queue ("queued") until a worker takes it up.
  const status = run.executor === "workers" ? "queued" : "running";
  await client.query(
    `INSERT INTO ${S}.run_entities (run_id, entity, position, status, result_json)
     SELECT $1, e.value->>'entity', e.n - 1, $2, e.value FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS e(value, n)`,
    [run.id, status, JSON.stringify(run.entities.map((entity) => notStarted(entity, run.fullRefresh)))],
  );
}

/** `stats_json` plus request counters, in SQL: several writers add to one run's without reading it first. */
export const addStatsSql = (param: number) =>
  `jsonb_build_object(${(["requests", "retries", "rateLimited", "waitMs"] as const)
    .map((k, i) => `'${k}', coalesce((stats_json->>'${k}')::float8, 0) + ($${param}::float8[])[${i + 1}]`)
    .join(", ")})`;

export const statsArray = (s: RequestStats) => [s.requests, s.retries, s.rateLimited, s.waitMs];

/**
 * A process's run: its entities' rows saved, counters added, heartbeat beaten. Says whether it
 * must stop: a cancel was asked, or the run ended meanwhile (judged dead while it could not write).
 */
export async function saveProgress(db: Queryable, runId: string, entities: EntityResult[], addStats: RequestStats): Promise<{ cancelRequested: boolean }> {
  const { rows } = await db.query<{ cancel_requested: boolean; status: string }>(
    `WITH saved AS (
       INSERT INTO ${S}.run_entities (run_id, entity, position, status, result_json)
       SELECT $1, e.value->>'entity', (SELECT count(*) FROM ${S}.run_entities WHERE run_id = $1) + e.n - 1, e.value->>'status', e.value
       FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS e(value, n)
       ON CONFLICT (run_id, entity) DO UPDATE SET status = excluded.status, result_json = excluded.result_json
       RETURNING 1)
     UPDATE ${S}.runs SET stats_json = ${addStatsSql(3)}, heartbeat_at = now() WHERE id = $1
     RETURNING cancel_requested, status`,
    [runId, JSON.stringify(entities), statsArray(addStats)],
  );
  return { cancelRequested: !rows[0] || rows[0].cancel_requested || rows[0].status !== "running" };
}

/**
 * Ends a workers' run once none of its entities waits or runs: failed if one failed, cancelled
 * if one was, succeeded otherwise. Inside the transaction that ended its last entity.
 */
export async function settleRun(db: Queryable, runId: string): Promise<void> {
  await db.query(
    `WITH e AS (SELECT status, result_json->>'error' AS error, position FROM ${S}.run_entities WHERE run_id = $1)
     UPDATE ${S}.runs SET
       status = CASE WHEN EXISTS (SELECT 1 FROM e WHERE status = 'failed') THEN 'failed'
                     WHEN EXISTS (SELECT 1 FROM e WHERE status IN ('cancelled', 'interrupted')) THEN 'cancelled'
                     ELSE 'succeeded' END,
       error = (SELECT error FROM e WHERE error IS NOT NULL ORDER BY position LIMIT 1),
       finished_at = now()
     WHERE id = $1 AND status = 'running' AND NOT EXISTS (SELECT 1 FROM e WHERE status IN ('queued', 'running'))`,
    [runId],
  );
}

/**
 * Asks a run to stop. A process's run, or a workers' entity being synced, reads the flag at its
 * next progress write; a workers' entity still waiting in the queue is cancelled here, and the run
 * ends here when nothing of it runs.
 */
export async function cancelRun(client: pg.PoolClient, runId: string): Promise<boolean> {
  const { rows } = await client.query<{ executor: string }>(
    `UPDATE ${S}.runs SET cancel_requested = true WHERE id = $1 AND status = 'running' RETURNING executor`,
    [runId],
  );
  if (!rows[0]) return false;
  if (rows[0].executor === "workers") {
    await client.query(
      `UPDATE ${S}.run_entities SET status = 'cancelled',
         result_json = result_json || jsonb_build_object('status', 'cancelled', 'error', 'cancelled before a worker took it up; the checkpoint is kept')
       WHERE run_id = $1 AND status = 'queued'`,
      [runId],
    );
    await settleRun(client, runId);
  }
  return true;
}

/** Runs with their entity rows, in the order given. */
export async function runsWithEntities(db: Queryable, rows: RunRow[]): Promise<RunRecord[]> {
  if (rows.length === 0) return [];
  const entities = await db.query<RunEntityRow>(
    `SELECT run_id, entity, status, result_json, attempts, workers FROM ${S}.run_entities WHERE run_id = ANY($1) ORDER BY run_id, position`,
    [rows.map((r) => r.id)],
  );
  const byRun = new Map<string, RunEntityRow[]>();
  for (const e of entities.rows) byRun.set(e.run_id, [...(byRun.get(e.run_id) ?? []), e]);
  return rows.map((r) => runFrom(r, byRun.get(r.id) ?? []));
}

/**
 * Fails the runs nothing runs any more, whichever host they ran on, judged on the database
 * clock. A process's run: its heartbeat is older than its lease (or, on this host, its process is
 * gone). A workers' run: an entity's lease expired and no live worker is left to take it over
 * (one waiting in the queue, never started, waits for the next worker).
 */
export async function reapDeadRuns(db: Queryable): Promise<void> {
  const { rows } = await db.query<{ id: string; pid: number; host: string; executor: string; silent: boolean; orphans: string[] | null }>(
    `SELECT r.id, r.pid, r.host, r.executor,
       coalesce(r.heartbeat_at, r.started_at) < now() - make_interval(secs => coalesce(r.lease_seconds, $1)) AS silent,
       (SELECT array_agg(re.entity ORDER BY re.position) FROM ${S}.run_entities AS re
         LEFT JOIN ${S}.leases AS l ON l.source = r.source AND l.entity = re.entity
         WHERE re.run_id = r.id AND re.status = 'running' AND (l.expires_at IS NULL OR l.expires_at < now())) AS orphans
     FROM ${S}.runs AS r WHERE r.status = 'running'`,
    [DEFAULT_LEASE_SECONDS],
  );
  if (rows.length === 0) return;
  const here = hostname();
  const dead: Array<{ id: string; error: string }> = [];
  for (const r of rows) {
    if (r.executor === "workers") {
      if (r.orphans?.length) dead.push({ id: r.id, error: say.workersStopped(r.orphans) });
    } else if (r.silent || (r.host === here && r.pid !== process.pid && !isAlive(r.pid))) {
      dead.push({ id: r.id, error: say.processStopped(r.pid, r.host === here ? undefined : r.host) });
    }
  }
  for (const d of dead) {
    await db.query(
      `UPDATE ${S}.runs SET status = 'failed', error = $2, finished_at = now()
       WHERE id = $1 AND status = 'running' AND (executor = 'process' OR NOT EXISTS (
         SELECT 1 FROM ${S}.workers WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => lease_seconds)))`,
      [d.id, d.error],
    );
  }
}
