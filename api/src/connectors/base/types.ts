// The types a connector author sees. The SDK knows nothing of how it is driven:
// nothing here imports the engine, a destination or the store.

/** One record as a source returns it: top-level fields become columns. */
export type DataRecord = Record<string, unknown>;

/** Tuning a user may set on a data source; every field is optional. */
export interface DataSourceSettings {
  /** Records per API call the connector should ask for. */
  batchSize?: number;
  /** API calls per chunk (one checkpoint per chunk). Default 10. */
  maxIterations?: number;
  /** Retries of a failed request (shared HTTP client) or chunk (engine). Default 5. */
  maxRetries?: number;
  /** Minimum spacing between requests, in milliseconds. */
  rateLimitDelay?: number;
  /** Token bucket: sustained requests per second (default: the connector's documented limit). */
  requestsPerSecond?: number;
  /** Token bucket: burst size. */
  burst?: number;
  /** Sources with the same group share one rate limit (several sources on one vendor account). */
  rateLimitGroup?: string;
  /** Cap on requests in flight for this data source. */
  maxConcurrentRequests?: number;
  /** Per-request timeout in milliseconds. */
  requestTimeoutMs?: number;
  /** Seconds subtracted from the incremental high-water mark, to catch late writes. */
  lookbackSeconds?: number;
  /** Entities of this source synced at once. Default 1. */
  entityConcurrency?: number;
  /** Chunks in a row with no record while claiming more before the engine calls it a loop. Default 10. */
  maxEmptyChunks?: number;
  /** Largest response body the shared HTTP client reads, bytes. Default 64 MB. */
  maxResponseBytes?: number;
  /** Levels of objects/arrays a record's field may nest. Default 64, at most 1000. */
  maxNestingDepth?: number;
  [key: string]: unknown;
}

/** What a connector is constructed with: `new XConnector(dataSource)`. */
export interface DataSource<Config = Record<string, any>> {
  /** The data source's name, unique in a Mako installation (also its warehouse namespace). */
  name: string;
  /** The registry id of the connector, e.g. "stripe". */
  connector?: string;
  config: Config;
  settings: DataSourceSettings;
}

export interface ConnectorMetadata {
  name: string;
  version: string;
  description: string;
  supportedEntities: string[];
  author?: string;
}

/** Per entity: how rows are keyed and whether the source can filter by a cursor. */
export interface EntityDescriptor {
  name: string;
  /** Primary key columns; `["id"]` unless declared. */
  primaryKey: string[];
  /** Field the source can filter by for incremental syncs (e.g. `updated_at`). */
  cursorField?: string;
  /** False when every sync must read the whole entity. */
  incremental: boolean;
  description?: string;
}

export type EntityDeclaration = Partial<Omit<EntityDescriptor, "name" | "primaryKey">> & {
  primaryKey?: string | string[];
};

export interface ConnectionTestResult {
  success: boolean;
  message: string;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface FetchProgress {
  /** Records fetched so far for this entity in this run. */
  processed?: number;
  /** Total records expected, when the source tells. */
  total?: number;
  message?: string;
}

/** A high-water mark: an ISO timestamp, or a number (epoch seconds, sequence). */
export type Since = string | number;

export interface FetchOptions {
  entity: string;
  /** Records per API call to ask for. */
  batchSize: number;
  /** Hand records to the engine; they are committed with the chunk's state. */
  onBatch: (records: DataRecord[]) => Promise<void>;
  onProgress: (progress: FetchProgress) => void;
  onLog: (level: LogLevel, message: string) => void;
  /** Incremental syncs: fetch only records whose cursor field is at or after this mark. */
  since?: Since;
  rateLimitDelay?: number;
  maxRetries?: number;
  /** Aborted when the run is cancelled; pass it to fetch() where you can. */
  signal?: AbortSignal;
}

/**
 * Where a resumable fetch stands. The engine stores it with the chunk's records in one
 * transaction and passes it back to resume. Everything but `hasMore` is the connector's own;
 * `metadata.highWaterMark`, when set on the last state, overrides the incremental mark.
 */
export interface FetchState {
  offset?: number;
  cursor?: string | null;
  page?: number;
  totalProcessed?: number;
  hasMore: boolean;
  iterationsInChunk?: number;
  metadata?: Record<string, any>;
}

export interface ResumableFetchOptions extends FetchOptions {
  /** The state returned by the last committed chunk; undefined on a fresh start. */
  state?: FetchState;
  /** API calls this chunk may make before returning. Default 10. */
  maxIterations: number;
}

/** Events the engine listens to (the HTTP client reports through these). */
export interface ConnectorObserver {
  log(level: LogLevel, message: string): void;
  count(metric: RequestMetric, amount: number): void;
  /** A pause of `ms` begins, and why: what a progress view says while nothing moves. */
  waiting?(reason: WaitReason, ms: number): void;
}

/** Why requests pause: the source's rate limit, or a retry after a network error, a timeout or a server error. */
export type WaitReason = "rate_limit" | "network_error" | "timeout" | "server_error";

export type RequestMetric = "requests" | "retries" | "rateLimited" | "waitMs";
