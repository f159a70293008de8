// One entity job, from the queue to the end of its slice: take the entity (lease and fence),
// sync it with the engine for at most a slice, then end it in the store, or hand it to the next
// job. Every write to the run's records after the take is conditional on still holding the
// lease, so a worker that lost it (paused, cut off) changes nothing when it comes back.

import type pg from "pg";
import { secretValues } from "../connectors/base/configMarks";
import { SecretRedactor } from "../connectors/base/http/SecretRedactor";
import type { Destination } from "../destinations/Destination";
import { settleRun, addStatsSql, statsArray } from "../store/postgresRuns";
import { METADATA_SCHEMA as S } from "../store/postgresUrl";
import type { RunSink } from "../sync/RunRecorder";
import { RunRecorder } from "../sync/RunRecorder";
import { SyncEngine } from "../sync/SyncEngine";
import type { EntityResult } from "../sync/events";
import { scrubEntity, scrubEvent } from "../sync/scrub";
import type { Cluster } from "./Cluster";
import { type Lease, leaseRemaining, releaseLease, renewLeaseSql, takeLease } from "./leases";
import type { EntityJob } from "./queue";
import { reconnecting } from "./reconnecting";
import { InboxFeed } from "../webhooks/InboxFeed";
import { applyIfPending } from "./applyJob";

export interface JobContext {
  cluster: Cluster;
  /** This worker's name (`host/pid`), as runs show it. */
  workerId: string;
  /** Aborted when the worker stops: its entities hand over at their next chunk boundary. */
  stopping: AbortSignal;
  log(line: string): void;
}

/** The entity as the job took it: its lease, its run, and what earlier jobs of it did. */
interface Taken {
  lease: Lease;
  runId: string;
  fullRefresh: boolean;
  destination: string | null;
  /** The entity's result before this job (zeros for the first). */
  before: EntityResult;
  firstSlice: boolean;
}

/** A database restart shorter than this is waited out; longer, the lease has gone to another worker anyway. */
const RECONNECT_PATIENCE_MS = 120_000;

const engine = new SyncEngine();

export async function runEntityJob(ctx: JobContext, job: EntityJob): Promise<void> {
  const { source, entity } = job.data;
  const name = `${source}.${entity}`;
  const taken = await take(ctx, job);
  if (!taken) return;
  ctx.log(`took ${name} (run ${taken.runId}, fence ${taken.lease.fence}${job.data.reason === "start" ? "" : `, ${job.data.reason}`})`);

  const cancel = new AbortController();
  const handOver = new AbortController();
  const leaseLost = new AbortController();
  const sliceEnds = setTimeout(() => handOver.abort(), ctx.cluster.sliceSeconds * 1000);
  const stop = () => handOver.abort();
  ctx.stopping.addEventListener("abort", stop, { once: true });
  const recorder = new RunRecorder(guardedSink(ctx.cluster, taken, job, leaseLost), taken.runId, [entity], () => cancel.abort(new Error("cancelled")));
  let destination: Destination | undefined;
  let result: EntityResult;
  try {
    const stored = await ctx.cluster.mako.sources.unredacted(source);
    const connector = ctx.cluster.mako.createConnector(stored.connector, stored);
    const secrets = secretValues(connector.getConfigSchema(), stored.config);
    const redactor = new SecretRedactor(secrets);
    destination = reconnecting(await openDestination(ctx.cluster, taken.destination), {
      patienceMs: RECONNECT_PATIENCE_MS,
      stop: leaseLost.signal,
      onRetry: (err) => ctx.log(`${name}: the destination dropped the connection (${err.message}); trying again`),
    });
    const run = await engine.run({
      runId: taken.runId,
      namespace: source,
      connector,
      destination,
      settings: stored.settings,
      entities: [entity],
      fullRefresh: taken.fullRefresh,
      signal: cancel.signal,
      handOver: handOver.signal,
      leaseLost: leaseLost.signal,
      fences: { [entity]: taken.lease.fence },
      // The entity's webhook events: this job holds its lease, so they are its to apply.
      changes: InboxFeed.forSource(ctx.cluster.mako.store.inbox, source, connector),
      secrets,
      onEvent: (event) => {
        const clean = scrubEvent(event, redactor);
        recorder.record(clean);
        if (clean.type === "log" && (clean.level === "warn" || clean.level === "error")) ctx.log(`${name}: ${clean.message}`);
      },
    });
    // Handed over before it began (the worker is stopping): the next job starts it.
    result = run.entities[0] ? scrubEntity(run.entities[0], redactor) : { ...taken.before, status: "continued" };
  } catch (err) {
    result = { ...taken.before, status: "failed", error: err.message };
    recorder.record({ type: "log", level: "error", entity, message: err.message });
  } finally {
    clearTimeout(sliceEnds);
    ctx.stopping.removeEventListener("abort", stop);
  }
  try {
    await recorder.close().catch((err) => ctx.log(`${name}: could not write its last progress (${err.message})`));
    const retried = recorder.results().find((e) => e.entity === entity)?.requestRetries;
    await end(ctx, job, taken, summed(taken, { ...result, ...(retried ? { requestRetries: retried } : {}) }));
  } finally {
    await destination?.close().catch(() => {});
  }
}

/**
 * Takes the job's entity in one transaction: the job must still be the entity's current one and
 * the entity waiting for it; the lease must be free. A cancelled run's entity ends here.
 */
async function take(ctx: JobContext, job: EntityJob): Promise<Taken | null> {
  const { runId, source, entity, reason } = job.data;
  const holder = `${ctx.workerId}#${job.id}`;
  return ctx.cluster.transaction(async (client) => {
    const { rows } = await client.query<{
      status: string;
      job_id: string | null;
      result_json: EntityResult;
      slices: number;
      run_status: string;
      cancel_requested: boolean;
      full_refresh: boolean;
      destination: string | null;
    }>(
      `SELECT re.status, re.job_id, re.result_json, re.slices, r.status AS run_status, r.cancel_requested, r.full_refresh, r.destination
       FROM ${S}.run_entities AS re JOIN ${S}.runs AS r ON r.id = re.run_id
       WHERE re.run_id = $1 AND re.entity = $2 FOR UPDATE OF re`,
      [runId, entity],
    );
    const row = rows[0];
    // A job replaced by a takeover, or left by an ended run: nothing to do.
    if (!row || row.job_id !== job.id || row.status !== "queued" || row.run_status !== "running") return null;
    if (row.cancel_requested) {
      await endEntity(client, runId, entity, job.id, { ...row.result_json, status: "cancelled", error: "cancelled before a worker took it up; the checkpoint is kept" });
      return null;
    }
    const lease = await takeLease(client, source, entity, holder, ctx.cluster.leaseSeconds);
    if (!lease) {
      // Still held by a live writer (it has not let go yet): this job comes back when the lease ends.
      const wait = await leaseRemaining(client, source, entity);
      await ctx.cluster.enqueue(client, { ...job.data, reason: "later" }, wait + 0.5);
      return null;
    }
    const attempt = reason === "start" || reason === "takeover" ? 1 : 0;
    await client.query(
      `UPDATE ${S}.run_entities SET status = 'running', worker = $3, heartbeat_at = now(),
         workers = CASE WHEN workers ? $3 THEN workers ELSE workers || jsonb_build_array($3::text) END,
         attempts = attempts + $4, slices = slices + 1
       WHERE run_id = $1 AND entity = $2`,
      [runId, entity, ctx.workerId, attempt],
    );
    await client.query(`UPDATE ${S}.runs SET heartbeat_at = now() WHERE id = $1`, [runId]);
    return { lease, runId, fullRefresh: row.full_refresh, destination: row.destination, before: row.result_json, firstSlice: row.slices === 0 };
  });
}

/**
 * Where the job's recorder writes: its entity's row and the run's counters, only while the
 * lease is still this job's, renewing it. A write that finds it gone says the lease is lost.
 */
function guardedSink(cluster: Cluster, taken: Taken, job: EntityJob, leaseLost: AbortController): RunSink {
  const { lease } = taken;
  return {
    appendLogs: (lines) => cluster.mako.store.appendLogs(lines),
    async updateRun(runId, patch) {
      const now = patch.entities.find((e) => e.entity === lease.entity);
      const { rows } = await cluster.pool.query<{ cancel_requested: boolean; status: string }>(
        `WITH renewed AS (${renewLeaseSql}),
         saved AS (
           UPDATE ${S}.run_entities SET result_json = $6, heartbeat_at = now()
           WHERE run_id = $7 AND entity = $2 AND job_id = $8 AND status = 'running' AND EXISTS (SELECT 1 FROM renewed) RETURNING 1)
         UPDATE ${S}.runs SET stats_json = ${addStatsSql(9)}, heartbeat_at = now()
         WHERE id = $7 AND EXISTS (SELECT 1 FROM saved) RETURNING cancel_requested, status`,
        [lease.source, lease.entity, lease.holder, lease.fence, cluster.leaseSeconds, JSON.stringify(summed(taken, now ?? taken.before)), runId, job.id, statsArray(patch.addStats)],
      );
      if (!rows[0]) {
        leaseLost.abort(new Error("lease lost"));
        return { cancelRequested: false };
      }
      return { cancelRequested: rows[0].cancel_requested || rows[0].status !== "running" };
    },
    finishRun: async () => {}, // the job ends its entity itself (end, below)
  };
}

/** Ends the job: the entity done (and the run, if it was the last), or handed to a new job. Nothing when the lease is lost. */
async function end(ctx: JobContext, job: EntityJob, taken: Taken, result: EntityResult): Promise<void> {
  const name = `${job.data.source}.${job.data.entity}`;
  if (result.status === "interrupted") {
    ctx.log(`${name}: lease lost; this worker wrote nothing more (${result.error ?? "another worker may take it over"})`);
    return;
  }
  const ended = await ctx.cluster.transaction(async (client) => {
    if (!(await releaseLease(client, taken.lease))) return false;
    if (result.status === "continued") {
      await ctx.cluster.enqueue(client, { ...job.data, reason: "slice" });
      await client.query(`UPDATE ${S}.run_entities SET status = 'queued', result_json = $3 WHERE run_id = $1 AND entity = $2`, [
        taken.runId,
        job.data.entity,
        JSON.stringify({ ...result, status: "running" }),
      ]);
    } else {
      await endEntity(client, taken.runId, job.data.entity, job.id, result);
    }
    return true;
  });
  // Apply jobs that came while this job held the lease did nothing: events that arrived after its
  // last application are applied now.
  if (ended) await applyIfPending(ctx.cluster, job.data.source, job.data.entity).catch((err) => ctx.log(`${name}: could not ask for its webhook events to be applied (${err.message})`));
  if (!ended) ctx.log(`${name}: lease lost before the job could end; another worker carries it on`);
  else if (result.status === "continued") ctx.log(`${name}: slice over after ${result.records} records so far; handed to the next job`);
  else ctx.log(`${name}: ${result.status}${result.error ? `: ${result.error}` : ""} (${result.records} records)`);
}

/** The entity's last word in the run's records, and the run's end once no entity is left. */
async function endEntity(client: pg.PoolClient, runId: string, entity: string, jobId: string, result: EntityResult): Promise<void> {
  await client.query(`UPDATE ${S}.run_entities SET status = $4, result_json = $5, heartbeat_at = now() WHERE run_id = $1 AND entity = $2 AND job_id = $3`, [
    runId,
    entity,
    jobId,
    result.status,
    JSON.stringify(result),
  ]);
  await settleRun(client, runId);
}

/** The entity's result over all its jobs: this job's figures added to those before it. */
function summed(taken: Taken, now: EntityResult): EntityResult {
  const b = taken.before;
  if (taken.firstSlice) return now;
  return {
    ...now,
    records: b.records + now.records,
    chunks: b.chunks + now.chunks,
    seconds: b.seconds + now.seconds,
    deleted: b.deleted + now.deleted,
    chunkRetries: b.chunkRetries + now.chunkRetries,
    ...(b.requestRetries || now.requestRetries ? { requestRetries: (b.requestRetries ?? 0) + (now.requestRetries ?? 0) } : {}),
    // How the entity's pass began is the first job's to say.
    resumed: b.resumed,
    mode: b.mode,
    since: b.since,
  };
}

/** The run's destination: a named one, or (null) the DATABASE_URL database, opened for this job. */
async function openDestination(cluster: Cluster, name: string | null): Promise<Destination> {
  if (name !== null) return cluster.mako.openDestination(name);
  const { PostgresDestination } = await import("../destinations/postgres/PostgresDestination");
  return PostgresDestination.open(cluster.databaseUrl);
}
