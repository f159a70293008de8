import pg from "pg";
import { inTransaction } from "../store/pgTransaction";
import { type Mako, ValidationError, newRunId } from "../Mako";
import { insertRun, leaseSeconds } from "../store/postgresRuns";
import { METADATA_SCHEMA as S } from "../store/postgresUrl";
import { EntityQueue, type EntityJobData } from "./queue";

const DEFAULT_SLICE_SECONDS = 1800;
const MAX_SLICE_SECONDS = 6 * 3600;
/** pg-boss gives up waiting for a job's handler after this much more than a slice: a chunk may wait long on a rate limit. */
const EXPIRY_MARGIN_SECONDS = 3600;

/** How long an entity job syncs before it hands over to a new job (MAKO_SLICE_SECONDS, default 1800). */
export function sliceSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.MAKO_SLICE_SECONDS;
  if (text === undefined || text === "") return DEFAULT_SLICE_SECONDS;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds < 0.1 || seconds > MAX_SLICE_SECONDS) {
    throw new ValidationError(`MAKO_SLICE_SECONDS must be a number of seconds from 0.1 to ${MAX_SLICE_SECONDS} (got "${text.slice(0, 20)}")`, "MAKO_SLICE_SECONDS");
  }
  return seconds;
}

/** Who asked for a run: recorded in its log. */
export type RunTrigger = "cli" | "api" | "schedule";

export interface RunRequest {
  /** Entities to sync; the source's saved selection (else all) when left out. */
  entities?: string[];
  fullRefresh?: boolean;
  /** A destination's name; the source's default otherwise. */
  destination?: string;
  trigger: RunTrigger;
  /** Inside the caller's transaction (a schedules tick's): the run exists only if it commits. */
  client?: pg.PoolClient;
}

/** Refused: Mako keeps its metadata in the SQLite file, which only one machine can share. */
export class NeedsPostgresError extends ValidationError {
  constructor() {
    super(
      "handing runs to workers needs DATABASE_URL=postgres://…: workers share runs, leases and the job queue through PostgreSQL, not the SQLite file $MAKO_HOME/mako.db",
      "DATABASE_URL",
    );
  }
}

/**
 * Mako in PostgreSQL mode as workers share it: the metadata database (runs, leases, workers),
 * the entity queue, and the timings every worker must agree on.
 */
export class Cluster {
  readonly leaseSeconds = leaseSeconds();
  readonly sliceSeconds = sliceSeconds();

  private constructor(
    readonly mako: Mako,
    readonly databaseUrl: string,
    /** The metadata database, for the transactions that span runs, leases and jobs. */
    readonly pool: pg.Pool,
    readonly queue: EntityQueue,
  ) {}

  /**
   * Opens the queue (creating pg-boss's schema the first time) over `connections` connections.
   * `maintain`: this process also expires and archives old jobs (workers do).
   */
  static async open(mako: Mako, options: { connections: number; maintain: boolean; onError?: (err: Error) => void }): Promise<Cluster> {
    const databaseUrl = process.env.DATABASE_URL;
    if (mako.embedded || !databaseUrl) throw new NeedsPostgresError();
    // Bad timings are said before anything is opened.
    leaseSeconds();
    sliceSeconds();
    // At least two: opening the queue holds one for its setup lock while pg-boss uses another.
    const pool = new pg.Pool({ connectionString: databaseUrl, max: Math.max(2, options.connections), application_name: "mako-cluster" });
    pool.on("error", () => {}); // an idle client's dropped connection surfaces on the next query
    // A checked-out client has no listener of the pool's: a server that drops it (a restart) would
    // end the process with an unhandled "error" event. The query in flight fails with it anyway.
    pool.on("connect", (client) => client.on("error", () => {}));
    try {
      const queue = await EntityQueue.open(pool, { maintain: options.maintain, onError: options.onError ?? (() => {}) });
      return new Cluster(mako, databaseUrl, pool, queue);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
  }

  /** pg-boss stops waiting for an entity job's handler after this long. */
  get jobExpirySeconds(): number {
    return Math.min(23 * 3600, Math.ceil(this.sliceSeconds) + EXPIRY_MARGIN_SECONDS);
  }

  /**
   * Hands a run of the source to the workers: the run, a row per entity and a job per entity in
   * one transaction (a request that fails leaves no job behind). SourceBusyError while a live
   * run holds the source; UnknownEntityError for an entity the source does not have. The run's id.
   */
  async requestRun(sourceName: string, request: RunRequest): Promise<string> {
    const source = await this.mako.sources.unredacted(sourceName);
    const entities = this.mako.entitiesToSync(source, request.entities);
    const destination = request.destination ?? source.destination ?? null;
    if (destination !== null) await this.mako.store.getDestination(destination);
    const runId = newRunId();
    const record = async (client: pg.PoolClient) => {
      await insertRun(client, { id: runId, source: sourceName, fullRefresh: request.fullRefresh ?? false, destination, entities, executor: "workers", trigger: request.trigger === "schedule" ? "schedule" : "manual" });
      for (const entity of entities) await this.enqueue(client, { runId, source: sourceName, entity, reason: "start" });
      await client.query(`INSERT INTO ${S}.run_logs (run_id, at, level, entity, message) VALUES ($1, now(), 'info', NULL, $2)`, [
        runId,
        `handed to the workers (asked by ${request.trigger}): ${entities.join(", ")}`,
      ]);
    };
    if (request.client) await record(request.client);
    else await this.transaction(record);
    return runId;
  }

  /** Sends an entity's job and makes it the entity's current one, inside the caller's transaction. */
  async enqueue(client: pg.PoolClient, data: EntityJobData, startAfterSeconds?: number): Promise<string> {
    const jobId = await this.queue.send(client, data, { expireInSeconds: this.jobExpirySeconds, startAfterSeconds });
    await client.query(`UPDATE ${S}.run_entities SET job_id = $3 WHERE run_id = $1 AND entity = $2`, [data.runId, data.entity, jobId]);
    return jobId;
  }

  transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, work);
  }

  async close(): Promise<void> {
    await this.queue.stop(1000).catch(() => {});
    await this.pool.end().catch(() => {});
  }
}
