import type { LogLevel, RequestMetric, Since, WaitReason } from "../connectors/base/types";

/**
 * "interrupted": the run ended (its process died, or the run failed around it) while the entity
 * was still running or waiting its turn; or a worker lost the entity's lease and stopped writing.
 * "continued": the entity's time slice ended (or its worker stopped) at a chunk boundary, its
 * checkpoint kept; another job carries it on.
 */
export type EntityStatus = "running" | "succeeded" | "failed" | "cancelled" | "interrupted" | "continued";
export type RunStatus = "running" | "succeeded" | "failed" | "cancelled";

/** Request counters reported by the shared HTTP client, summed over a run. */
export type RequestStats = Record<RequestMetric, number>;

export interface EntityResult {
  entity: string;
  status: EntityStatus;
  /** Records committed by this run. */
  records: number;
  chunks: number;
  seconds: number;
  /** Rows marked deleted by a full refresh. */
  deleted: number;
  /** Whether the run picked up an interrupted pass. */
  resumed: boolean;
  mode: "incremental" | "full_refresh";
  since: Since | null;
  /** Retries of failed chunks by the engine. */
  chunkRetries: number;
  /**
   * Retries of requests by the HTTP client while the entity ran (with several entities at
   * once, each is credited: they share one rate limit). Set by RunRecorder, for run history.
   */
  requestRetries?: number;
  /** Run by workers (`mako worker`): how many times a worker took the entity up, and which workers did. */
  attempts?: number;
  workers?: string[];
  error?: string;
}

export interface RunResult {
  runId: string;
  status: RunStatus;
  entities: EntityResult[];
  stats: RequestStats;
  startedAt: string;
  finishedAt: string;
  error?: string;
}

/** What a run tells its listeners (CLI progress bar, store, SSE stream) as it goes. */
export type SyncEvent =
  | { type: "entity_started"; entity: string; resumed: boolean; mode: "incremental" | "full_refresh"; since: Since | null }
  | { type: "progress"; entity: string; fetched: number; committed: number; total?: number; chunks: number; elapsedMs: number }
  | { type: "log"; level: LogLevel; message: string; entity?: string }
  | { type: "entity_finished"; result: EntityResult }
  | { type: "stats"; stats: RequestStats }
  /** Requests of the source pause for `ms`: the rate limit, or a retry after a failure. */
  | { type: "waiting"; reason: WaitReason; ms: number };

export const emptyStats = (): RequestStats => ({ requests: 0, retries: 0, rateLimited: 0, waitMs: 0 });
