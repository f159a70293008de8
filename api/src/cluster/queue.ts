// The job queue between `mako sync --enqueue` (and schedules) and the workers: pg-boss 10.4.2,
// pinned. pg-boss 11 and later need Node 22; 10.4.2 runs on Node 20. We use a small part of it,
// and test exactly that part (api/test/cluster/pgBossSurface.test.ts): a queue with the
// "standard" policy in schema `mako_queue`, jobs sent inside our own transactions, fetched one
// at a time. Liveness and exclusion are not pg-boss's: a job is only a wake-up call, and the
// lease (leases.ts) decides who writes an entity. ("stately"/"singleton" queues would make one
// active job per entity, but in 10.x a fetch that meets an active job of the same key fails
// whole, blocking every other entity behind it.)

import PgBoss from "pg-boss";
import type pg from "pg";
import type { Queryable } from "../store/postgresRuns";

export const QUEUE_SCHEMA = "mako_queue";
export const ENTITY_QUEUE = "entity";
/**
 * Webhook apply jobs, one per source/entity at most waiting: the "short" policy refuses a second
 * queued job of the same singleton key (an active one does not count, so events arriving while a
 * job applies get a job of their own). Fetching is not gated by key, unlike "stately".
 */
export const APPLY_QUEUE = "apply";

export interface ApplyJobData {
  source: string;
  entity: string;
}

/** Why a job exists: a run's first job of an entity, the continuation of a time slice, a takeover after a lost worker, or a retry later. */
export type JobReason = "start" | "slice" | "takeover" | "later";

export interface EntityJobData {
  runId: string;
  source: string;
  entity: string;
  reason: JobReason;
}

export interface EntityJob {
  id: string;
  data: EntityJobData;
}

/**
 * Creates the queue under a lock: in pg-boss 10, two processes creating one queue at once
 * deadlock on the partition they both attach (workers started together do that).
 */
async function createQueueAlone(pool: pg.Pool, boss: PgBoss): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query(`SELECT pg_advisory_lock(hashtext('mako:queue-setup'))`);
    try {
      if (!(await boss.getQueue(ENTITY_QUEUE))) await boss.createQueue(ENTITY_QUEUE, { name: ENTITY_QUEUE, policy: "standard" });
      if (!(await boss.getQueue(APPLY_QUEUE))) await boss.createQueue(APPLY_QUEUE, { name: APPLY_QUEUE, policy: "short" });
    } finally {
      await client.query(`SELECT pg_advisory_unlock(hashtext('mako:queue-setup'))`);
    }
  } finally {
    client.release();
  }
}

/** pg-boss runs its SQL through this: our pool, or a client inside our transaction. */
const through = (db: Queryable): PgBoss.Db => ({ executeSql: (text, values) => db.query(text, values) });

/** The entity queue over one PostgreSQL pool. */
export class EntityQueue {
  private constructor(private readonly boss: PgBoss) {}

  /**
   * Installs (or migrates) pg-boss's schema and the queue, then starts. With `maintain`, this
   * process also expires and archives old jobs (pg-boss lets one process do it per interval).
   */
  static async open(pool: pg.Pool, options: { maintain: boolean; onError: (err: Error) => void }): Promise<EntityQueue> {
    const boss = new PgBoss({ db: through(pool), schema: QUEUE_SCHEMA, supervise: options.maintain, schedule: false, migrate: true });
    // Without a listener an EventEmitter's "error" throws; pg-boss reports failed polls there.
    boss.on("error", options.onError);
    await boss.start();
    if (!(await boss.getQueue(ENTITY_QUEUE)) || !(await boss.getQueue(APPLY_QUEUE))) await createQueueAlone(pool, boss);
    return new EntityQueue(boss);
  }

  /**
   * Sends a job inside the caller's transaction: it exists only if the transaction commits.
   * `expireInSeconds` bounds how long pg-boss waits for the handler; it must outlast a slice.
   */
  async send(db: Queryable, data: EntityJobData, options: { expireInSeconds: number; startAfterSeconds?: number }): Promise<string> {
    const id = await this.boss.send(ENTITY_QUEUE, data, {
      db: through(db),
      expireInSeconds: options.expireInSeconds,
      // Our monitor re-enqueues what a lost worker held; pg-boss must not run it a second time.
      retryLimit: 0,
      ...(options.startAfterSeconds ? { startAfter: Math.ceil(options.startAfterSeconds) } : {}),
    });
    if (!id) throw new Error(`pg-boss did not create a job for ${data.source}.${data.entity}`);
    return id;
  }

  /** Cancels a job that is no longer the entity's (a takeover replaced it), inside the caller's transaction. */
  async cancel(db: Queryable, jobId: string): Promise<void> {
    await this.boss.cancel(ENTITY_QUEUE, jobId, { db: through(db) });
  }

  /** Takes jobs one at a time on `slots` loops, polling every half second when idle. */
  async work(slots: number, handler: (job: EntityJob) => Promise<void>): Promise<void> {
    for (let i = 0; i < slots; i++) {
      await this.boss.work<EntityJobData>(ENTITY_QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => handler(job));
    }
  }

  /**
   * Asks for the entity's pending webhook events to be applied, after `delaySeconds` (the
   * debounce: events of the entity arriving meanwhile join the same job). False when a job of
   * the entity is already waiting: it will apply this event too.
   */
  async sendApply(db: Queryable, data: ApplyJobData, delaySeconds: number): Promise<boolean> {
    const id = await this.boss.send(APPLY_QUEUE, data, {
      db: through(db),
      singletonKey: `${data.source}/${data.entity}`,
      startAfter: delaySeconds > 0 ? String(delaySeconds) : undefined,
      expireInSeconds: 15 * 60,
      retryLimit: 3,
      retryDelay: 1,
    });
    return id !== null;
  }

  /** Takes apply jobs one at a time on `slots` loops. */
  async workApply(slots: number, handler: (job: { id: string; data: ApplyJobData }) => Promise<void>): Promise<void> {
    for (let i = 0; i < slots; i++) {
      await this.boss.work<ApplyJobData>(APPLY_QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => handler(job));
    }
  }

  /** Stops taking jobs and waits (up to `timeoutMs`) for those running. */
  async stop(timeoutMs: number): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, timeout: timeoutMs, close: false });
  }
}
