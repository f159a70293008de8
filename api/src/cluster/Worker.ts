import { hostname } from "node:os";
import type { Mako } from "../Mako";
import { METADATA_SCHEMA as S } from "../store/postgresUrl";
import { Cluster } from "./Cluster";
import { runApplyJob, startApplying } from "./applyJob";
import { runEntityJob } from "./entityJob";
import { requeueOrphans, takeOverExpired } from "./monitor";

/** Connections beyond one per job: the queue's polls, the monitor, the heartbeat. */
const SPARE_CONNECTIONS = 3;
/** How long a stopping worker waits for its entities to reach a chunk boundary and hand over. */
const STOP_TIMEOUT_MS = 120_000;

/**
 * `mako worker`: registers itself (a heartbeat on the database clock, so that any process can
 * tell a live worker from a dead one), runs entity jobs from the queue, and watches for entities
 * whose worker died. Stopping hands its entities over at their next chunk boundary.
 */
export class Worker {
  readonly id = `${hostname()}/${process.pid}`;
  private readonly stopping = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];
  private monitoring = false;
  private stopPruning?: () => void;

  private constructor(
    /** What the worker runs on: a schedules tick running in the worker requests runs through it. */
    readonly cluster: Cluster,
    readonly concurrency: number,
    private readonly log: (line: string) => void,
  ) {}

  static async start(mako: Mako, options: { concurrency: number; log: (line: string) => void }): Promise<Worker> {
    const cluster = await Cluster.open(mako, {
      connections: options.concurrency + SPARE_CONNECTIONS,
      maintain: true,
      onError: (err) => options.log(`queue: ${err.message}`),
    });
    const worker = new Worker(cluster, options.concurrency, options.log);
    try {
      await worker.register();
      await cluster.queue.work(options.concurrency, (job) =>
        runEntityJob({ cluster, workerId: worker.id, stopping: worker.stopping.signal, log: options.log }, job).catch((err) => {
          options.log(`${job.data.source}.${job.data.entity}: ${err.message}`);
          throw err;
        }),
      );
      // Webhook events: a slot of its own, so a burst is applied while every entity slot syncs.
      await cluster.queue.workApply(1, (job) =>
        runApplyJob(cluster, worker.id, job, options.log).catch((err) => {
          options.log(`${job.data.source}.${job.data.entity}: applying webhook events failed (${err.message}); retried`);
          throw err;
        }),
      );
      worker.stopPruning = await startApplying(cluster, options.log);
    } catch (err) {
      await worker.stop();
      throw err;
    }
    return worker;
  }

  get leaseSeconds(): number {
    return this.cluster.leaseSeconds;
  }

  get sliceSeconds(): number {
    return this.cluster.sliceSeconds;
  }

  /** Hands running entities over at their next chunk boundary, waits for them, and leaves. */
  async stop(): Promise<void> {
    this.stopping.abort();
    this.stopPruning?.();
    await this.cluster.queue.stop(STOP_TIMEOUT_MS).catch((err) => this.log(`stopping the queue: ${err.message}`));
    for (const t of this.timers) clearInterval(t);
    await this.cluster.pool.query(`UPDATE ${S}.workers SET stopped_at = now() WHERE id = $1`, [this.id]).catch(() => {});
    await this.cluster.close();
  }

  private async register(): Promise<void> {
    const { pool, leaseSeconds } = this.cluster;
    await pool.query(
      `INSERT INTO ${S}.workers (id, host, pid, concurrency, lease_seconds, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5, now(), now())
       ON CONFLICT (id) DO UPDATE SET concurrency = excluded.concurrency, lease_seconds = excluded.lease_seconds,
         started_at = now(), heartbeat_at = now(), stopped_at = NULL`,
      [this.id, hostname(), process.pid, this.concurrency, leaseSeconds],
    );
    // A third of the lease: two beats may be lost before the worker is taken for dead.
    this.every((leaseSeconds * 1000) / 3, () => pool.query(`UPDATE ${S}.workers SET heartbeat_at = now() WHERE id = $1`, [this.id]));
    // Takeover within about a lease and a second of the last renewal.
    this.every(Math.min(1000, (leaseSeconds * 1000) / 4), () => this.watch());
  }

  private async watch(): Promise<void> {
    if (this.monitoring || this.stopping.signal.aborted) return;
    this.monitoring = true;
    try {
      for (const entity of await takeOverExpired(this.cluster, this.id)) this.log(`${entity}: its worker stopped renewing the lease; back in the queue`);
      for (const entity of await requeueOrphans(this.cluster)) this.log(`${entity}: its job ended, or was lost, before taking it; back in the queue`);
    } finally {
      this.monitoring = false;
    }
  }

  /** A timer whose failures (the database restarting) are only logged: the next tick tries again. */
  private every(ms: number, task: () => Promise<unknown>): void {
    let failing = false;
    const timer = setInterval(() => {
      task().then(
        () => (failing = false),
        (err) => {
          if (!failing) this.log(`${err.message}; trying again`);
          failing = true;
        },
      );
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }
}
