import type { BaseConnector } from "../connectors/base/BaseConnector";
import type { DataSourceSettings } from "../connectors/base/types";
import type { Destination } from "../destinations/Destination";
import type { ChangeFeed } from "./ChangeFeed";
import { EntitySync, type SyncHooks } from "./EntitySync";
import { HttpError } from "../connectors/base/http/HttpError";
import { emptyStats, type EntityResult, type RunResult, type SyncEvent } from "./events";

export interface SyncJob {
  runId: string;
  /** The data source's name: the warehouse namespace. */
  namespace: string;
  connector: BaseConnector;
  destination: Destination;
  settings: DataSourceSettings;
  /** Entities to sync; all the connector supports when omitted. */
  entities?: string[];
  fullRefresh?: boolean;
  /** Cancels the run: each entity stops at its next chunk boundary, its checkpoint kept. */
  signal?: AbortSignal;
  /**
   * Ends the run's time slice: each resumable entity stops at its next chunk boundary, its
   * checkpoint kept, as "continued" (a worker's job then enqueues the rest).
   */
  handOver?: AbortSignal;
  /** The run's entities are no longer this process's to write (a worker lost its lease): stop at once. */
  leaseLost?: AbortSignal;
  /** The fence each entity was taken with (a worker's lease): raised at its start, checked by every commit. */
  fences?: Record<string, number>;
  onEvent?: (event: SyncEvent) => void;
  hooks?: SyncHooks;
  /** Changes from outside the pulls (webhooks) the run applies as the entities' writer. */
  changes?: ChangeFeed;
  /** The source's secret values: a checkpoint holding one is refused, never stored. */
  secrets?: string[];
}

/** Unknown entity names: a clear error before anything runs. */
export class UnknownEntityError extends Error {
  readonly retryable = false;
}

/**
 * Runs a sync: each entity through `EntitySync` (resumable, checkpointed chunks), several at
 * once up to `settings.entityConcurrency`. The engine never throws for a failing entity; the
 * result says what happened to each.
 */
export class SyncEngine {
  async run(job: SyncJob): Promise<RunResult> {
    const startedAt = new Date().toISOString();
    const descriptors = job.connector.describeEntities();
    const wanted = job.entities?.length ? job.entities : descriptors.map((d) => d.name);
    const unknown = wanted.filter((e) => !descriptors.some((d) => d.name === e));
    if (unknown.length > 0) {
      throw new UnknownEntityError(
        `unknown entity ${unknown.map((e) => `"${e}"`).join(", ")} for connector ${job.connector.getMetadata().name}; ` +
          `it has: ${descriptors.map((d) => d.name).join(", ")}`,
      );
    }
    const emit = job.onEvent ?? (() => {});
    const stats = emptyStats();
    job.connector.observe({
      log: (level, message) => emit({ type: "log", level, message }),
      count: (metric, amount) => {
        stats[metric] += amount;
        emit({ type: "stats", stats: { ...stats } });
      },
      waiting: (reason, ms) => emit({ type: "waiting", reason, ms }),
    });
    const cancel = job.signal ?? new AbortController().signal;
    // Losing the lease stops requests as a cancel would; EntitySync tells the two apart.
    const signal = job.leaseLost ? AbortSignal.any([cancel, job.leaseLost]) : cancel;
    const queue = descriptors.filter((d) => wanted.includes(d.name));
    const results: EntityResult[] = [];
    const concurrency = Math.max(1, Math.floor(job.settings.entityConcurrency ?? 1));

    // Once an entity finds the source unreachable (DNS, refused, TLS) after its retries, the
    // entities still waiting fail at once with that cause instead of each retrying for seconds.
    let unreachable: { entity: string; cause: string } | undefined;
    const worker = async () => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        if (signal.aborted || job.handOver?.aborted) break;
        if (unreachable) {
          const result = notAttempted(d.name, job.fullRefresh ?? false, `not attempted: the source is unreachable (${unreachable.entity}: ${unreachable.cause})`);
          emit({ type: "log", level: "error", entity: d.name, message: result.error! });
          results.push(result);
          emit({ type: "entity_finished", result });
          continue;
        }
        const sync = new EntitySync(
          {
            runId: job.runId,
            namespace: job.namespace,
            connector: job.connector,
            destination: job.destination,
            settings: job.settings,
            fullRefresh: job.fullRefresh ?? false,
            signal,
            handOver: job.handOver,
            leaseLost: job.leaseLost,
            fence: job.fences?.[d.name],
            emit,
            hooks: job.hooks,
            changes: job.changes,
            secrets: job.secrets,
          },
          d,
        );
        const result = await sync.run();
        const wall = result.status === "failed" ? unreachableCause(sync.failure) : undefined;
        if (wall) unreachable ??= { entity: d.name, cause: wall };
        results.push(result);
        emit({ type: "entity_finished", result });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));

    const status = results.some((r) => r.status === "failed")
      ? "failed"
      : signal.aborted || results.some((r) => r.status === "cancelled" || r.status === "interrupted")
        ? "cancelled"
        : results.some((r) => r.status === "continued") || (job.handOver?.aborted && results.length < wanted.length)
          ? "running" // handed over: the run goes on in other jobs
          : results.length < wanted.length
            ? "cancelled"
            : "succeeded";
    const order = (r: EntityResult) => wanted.indexOf(r.entity);
    return {
      runId: job.runId,
      status,
      entities: results.sort((a, b) => order(a) - order(b)),
      stats,
      startedAt,
      finishedAt: new Date().toISOString(),
      error: results.find((r) => r.error)?.error,
    };
  }
}

/** The one-line cause when an error (or what it wraps) is a connection that could not be made. */
function unreachableCause(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof HttpError && e.unreachable) return e.message;
  }
  return undefined;
}

function notAttempted(entity: string, fullRefresh: boolean, error: string): EntityResult {
  return {
    entity,
    status: "failed",
    records: 0,
    chunks: 0,
    seconds: 0,
    deleted: 0,
    resumed: false,
    mode: fullRefresh ? "full_refresh" : "incremental",
    since: null,
    chunkRetries: 0,
    error,
  };
}
