import type { BaseConnector } from "../connectors/base/BaseConnector";
import type { DataRecord, DataSourceSettings, EntityDescriptor, FetchState, LogLevel } from "../connectors/base/types";
import { MalformedCheckpointError } from "../destinations/checkpointCodec";
import type { Destination, EntityCheckpoint, TableRef } from "../destinations/Destination";
import { StaleFenceError } from "../destinations/stateRow";
import { backoffDelay, sleep } from "./backoff";
import { PermanentSyncError, latest, prepareChunk, withLookback } from "./chunkRecords";
import { DEFAULT_RECORD_DEPTH } from "../connectors/base/nesting";
import { microsOf } from "../connectors/base/version";
import type { EntityResult, SyncEvent } from "./events";
import type { ChangeFeed } from "./ChangeFeed";

/** Test seams: the conformance kit crashes the sync around commits through these. */
export interface SyncHooks {
  beforeCommit?(entity: string, seq: number): void | Promise<void>;
  afterCommit?(entity: string, seq: number): void | Promise<void>;
}

export interface EntitySyncContext {
  runId: string;
  namespace: string;
  connector: BaseConnector;
  destination: Destination;
  settings: DataSourceSettings;
  fullRefresh: boolean;
  /** Cancel: stop at the next chunk boundary, checkpoint kept. */
  signal: AbortSignal;
  /** Hand the entity over at the next chunk boundary (its time slice is over): checkpoint kept, "continued". */
  handOver?: AbortSignal;
  /** The entity is no longer this writer's: stop at once, write nothing more. */
  leaseLost?: AbortSignal;
  /** The fence this writer took the entity with: raised at the start, checked by every commit. */
  fence?: number;
  emit: (event: SyncEvent) => void;
  hooks?: SyncHooks;
  /** Changes from outside the pulls (webhooks): applied after each commit, re-applied after a full refresh's swap. */
  changes?: ChangeFeed;
  /** Values that must never be stored in clear: a checkpoint holding one is refused. */
  secrets?: string[];
}

const DEFAULTS = { batchSize: 1000, maxIterations: 10, maxRetries: 5 };
/**
 * Chunks in a row that may return no record while claiming more (settings.maxEmptyChunks):
 * past this, it is a loop. Generous, since an incremental sub-resource sync legitimately
 * visits many parents with nothing new.
 */
const MAX_EMPTY_CHUNKS = 10;

/** What runChunks returns when the entity was handed over before its end. */
const HANDED_OVER = Symbol("handed over");

interface FetchedChunk {
  batches: DataRecord[][];
  /** Per batch: when (µs) the request that read it began, at the latest (see readClock). */
  readAt: number[];
  state: FetchState;
  count: number;
}

/** Syncs one entity: resumes its pass or starts one, then fetches and commits chunk by chunk. */
export class EntitySync {
  private readonly ref: TableRef;
  private readonly batchSize: number;
  private readonly maxIterations: number;
  private readonly maxRetries: number;
  private fetched = 0;
  private committed = 0;
  private chunks = 0;
  private chunkRetries = 0;
  private total?: number;
  private readonly started = Date.now();
  /** What made the entity fail, as thrown: the engine reads it to tell an unreachable source. */
  failure?: unknown;

  constructor(
    private readonly ctx: EntitySyncContext,
    private readonly entity: EntityDescriptor,
  ) {
    this.ref = { namespace: ctx.namespace, entity: entity.name };
    const s = ctx.settings;
    this.batchSize = positive(s.batchSize, DEFAULTS.batchSize);
    this.maxIterations = positive(s.maxIterations, DEFAULTS.maxIterations);
    this.maxRetries = s.maxRetries !== undefined && s.maxRetries >= 0 ? s.maxRetries : DEFAULTS.maxRetries;
  }

  async run(): Promise<EntityResult> {
    let pass: EntityCheckpoint | undefined;
    let resumed = false;
    this.ctx.changes?.writing?.(this.entity.name, true);
    try {
      if (this.ctx.fence !== undefined) await this.ctx.destination.raiseFence(this.ref, this.ctx.fence);
      ({ pass, resumed } = await this.beginPass());
      this.ctx.emit({ type: "entity_started", entity: this.entity.name, resumed, mode: pass.mode, since: pass.since });
      if (!resumed) {
        this.log("info", pass.mode === "full_refresh" ? "full refresh: reading everything" : pass.since !== null ? `incremental: changes since ${pass.since}` : "first sync: reading everything");
      }
      const deleted = this.ctx.connector.supportsResumableFetching()
        ? await this.runChunks(pass)
        : await this.runWhole(pass);
      if (deleted === HANDED_OVER) {
        this.log("info", `handed over after ${this.committed} records in ${this.chunks} chunks; the checkpoint is kept and the next job resumes there`);
        return this.result("continued", pass, resumed, 0);
      }
      // Changes that arrived during the last commit and the completion.
      await this.applyChanges();
      this.log("info", `done: ${this.committed} records in ${this.chunks} chunks, ${((Date.now() - this.started) / 1000).toFixed(1)} s`);
      return this.result("succeeded", pass, resumed, deleted);
    } catch (err) {
      if (this.ctx.leaseLost?.aborted || err instanceof StaleFenceError) {
        const message = `lease lost: ${err instanceof StaleFenceError ? err.message : "another worker may take the entity over"}; this worker writes nothing more`;
        this.log("warn", message);
        return this.result("interrupted", pass, resumed, 0, message);
      }
      const cancelled = this.ctx.signal.aborted;
      if (!cancelled) this.failure = err;
      const message = cancelled ? "cancelled; the checkpoint is kept" : describe(err);
      this.log(cancelled ? "warn" : "error", message);
      return this.result(cancelled ? "cancelled" : "failed", pass, resumed, 0, message);
    } finally {
      this.ctx.changes?.writing?.(this.entity.name, false);
    }
  }

  /** Resumes an interrupted pass, or starts a new one from the last high-water mark (after checking the table). */
  private async beginPass(): Promise<{ pass: EntityCheckpoint; resumed: boolean }> {
    // A checkpoint is only as good as the table it describes (dropped by hand, say).
    const found = await this.ctx.destination.verifyTable(this.ref);
    if (found) this.log("warn", `${found}: its checkpoint is not trusted; reloading "${this.entity.name}" in full`);
    let previous: EntityCheckpoint | null;
    try {
      previous = await this.ctx.destination.loadCheckpoint(this.ref);
    } catch (err) {
      if (!(err instanceof MalformedCheckpointError && this.ctx.fullRefresh)) throw err;
      this.log("warn", `${err.message}: starting over`);
      previous = null;
    }
    const interrupted = previous?.fetchState ? previous : null;
    if (interrupted && (!this.ctx.fullRefresh || interrupted.mode === "full_refresh")) {
      this.log("info", `resuming the ${interrupted.mode.replace("_", " ")} pass after chunk ${interrupted.seq} (${interrupted.records} records committed)`);
      return { pass: interrupted, resumed: true };
    }
    const mode = this.ctx.fullRefresh ? "full_refresh" : "incremental";
    const highWaterMark = previous?.highWaterMark ?? null;
    const since = mode === "incremental" && this.entity.incremental ? withLookback(highWaterMark, this.ctx.settings.lookbackSeconds) : null;
    if (mode === "incremental" && !this.entity.incremental && previous) {
      this.log("info", "this entity cannot be synced incrementally: reading it whole");
    }
    return {
      resumed: false,
      pass: {
        runId: this.ctx.runId,
        seq: 0,
        mode,
        since,
        passStartedAt: new Date().toISOString(),
        fetchState: null,
        maxCursor: null,
        highWaterMark,
        records: 0,
      },
    };
  }

  private async runChunks(start: EntityCheckpoint): Promise<number | typeof HANDED_OVER> {
    // Killed between the last chunk's commit and completion: nothing left to fetch.
    if (start.fetchState?.hasMore === false) return this.complete(start);
    let pass = start;
    let emptyChunks = 0;
    const inFlight: Promise<void>[] = [];
    let next: Promise<FetchedChunk> | null = observed(this.fetchChunk(pass.fetchState ?? undefined, pass));
    try {
      while (next) {
        const chunk: FetchedChunk = await next;
        next = null;
        this.checkLoop(pass.fetchState, chunk, emptyChunks);
        emptyChunks = chunk.count === 0 && chunk.state.hasMore ? emptyChunks + 1 : 0;

        const seq = pass.seq + 1;
        const { records, maxCursor } = prepareChunk(chunk.batches, { ...this.keyInfo(), seq, readAt: chunk.readAt });
        pass = {
          ...pass,
          runId: this.ctx.runId,
          seq,
          fetchState: chunk.state,
          maxCursor: latest(pass.maxCursor, maxCursor),
          records: pass.records + records.length,
        };
        // Fetch chunk N+1 while chunk N commits; the window bounds what is held in memory.
        if (chunk.state.hasMore && !this.ctx.signal.aborted && !this.handingOver) next = observed(this.fetchChunk(chunk.state, pass));
        // Let the prefetch put its request on the wire before a synchronous commit holds the thread.
        if (next) await new Promise((resolve) => setImmediate(resolve));
        while (inFlight.length >= this.ctx.destination.writeConcurrency) await inFlight.shift();
        inFlight.push(observed(this.commit(pass, records)));
        if (this.ctx.signal.aborted) break;
      }
      for (const commit of inFlight.splice(0)) await commit;
    } catch (err) {
      // Wait for the prefetch too: once the entity ends, the connector must not be working.
      await Promise.allSettled(next ? [...inFlight, next] : inFlight);
      throw err;
    }
    if (this.ctx.signal.aborted) throw this.ctx.signal.reason;
    if (pass.fetchState?.hasMore && this.handingOver) return HANDED_OVER;
    return this.complete(pass);
  }

  /** A resumable entity stops fetching once asked to hand over; the chunk in hand still commits. */
  private get handingOver(): boolean {
    return this.ctx.handOver?.aborted === true;
  }

  /** The non-resumable path: one `fetchEntity` call, each batch committed as it arrives. */
  private async runWhole(start: EntityCheckpoint): Promise<number> {
    this.log("warn", `${this.ctx.connector.getMetadata().name} cannot resume: an interrupted sync of "${this.entity.name}" starts over`);
    let pass: EntityCheckpoint = { ...start, seq: 0, records: 0, fetchState: null, maxCursor: null };
    const clock = readClock();
    await this.ctx.connector.fetchEntity({
      ...this.fetchOptions(pass),
      onBatch: async (batch) => {
        const readAt = clock.batch();
        this.fetched += batch.length;
        const seq = pass.seq + 1;
        const { records, maxCursor } = prepareChunk([batch], { ...this.keyInfo(), seq, readAt: [readAt] });
        pass = {
          ...pass,
          seq,
          fetchState: { hasMore: true, metadata: { restartable: false } },
          maxCursor: latest(pass.maxCursor, maxCursor),
          records: pass.records + records.length,
        };
        await this.commit(pass, records);
      },
    });
    return this.complete(pass);
  }

  private async fetchChunk(state: FetchState | undefined, pass: EntityCheckpoint): Promise<FetchedChunk> {
    const restartable = state?.metadata?.restartable !== false;
    const from = restartable ? state : undefined;
    for (let attempt = 0; ; attempt++) {
      const batches: DataRecord[][] = [];
      const readAt: number[] = [];
      const clock = readClock();
      let count = 0;
      try {
        const next = await this.ctx.connector.fetchEntityChunk({
          ...this.fetchOptions(pass),
          state: from ? { ...from, iterationsInChunk: 0 } : undefined,
          maxIterations: this.maxIterations,
          onBatch: async (records) => {
            if (!Array.isArray(records)) {
              throw new PermanentSyncError(`entity "${this.entity.name}": onBatch was given ${typeof records}, not an array of records`);
            }
            batches.push(records);
            readAt.push(clock.batch());
            count += records.length;
            this.fetched += records.length;
            this.progress();
          },
        });
        if (!next || typeof next !== "object" || typeof next.hasMore !== "boolean") {
          throw new PermanentSyncError(`entity "${this.entity.name}": fetchEntityChunk returned no state with a boolean hasMore`);
        }
        return { batches, readAt, state: next, count };
      } catch (err) {
        this.fetched -= count;
        if (this.ctx.signal.aborted || err?.retryable === false || attempt >= this.maxRetries) throw err;
        this.chunkRetries++;
        const wait = typeof err?.retryAfterMs === "number" ? err.retryAfterMs : backoffDelay(attempt);
        this.log("warn", `chunk ${pass.seq + 1} failed (${describe(err)}); retry ${attempt + 1}/${this.maxRetries} in ${(wait / 1000).toFixed(1)}s`);
        await sleep(wait, this.ctx.signal);
      }
    }
  }

  private fetchOptions(pass: EntityCheckpoint) {
    return {
      entity: this.entity.name,
      batchSize: this.batchSize,
      since: pass.since ?? undefined,
      rateLimitDelay: this.ctx.settings.rateLimitDelay,
      maxRetries: this.maxRetries,
      signal: this.ctx.signal,
      onProgress: (p: { total?: number }) => {
        if (typeof p?.total === "number") this.total = p.total;
        this.progress();
      },
      onLog: (level: LogLevel, message: string) => this.log(level, message),
    };
  }

  private keyInfo() {
    return {
      entity: this.entity.name,
      primaryKey: this.entity.primaryKey,
      cursorField: this.entity.cursorField,
      maxDepth: positive(this.ctx.settings.maxNestingDepth, DEFAULT_RECORD_DEPTH),
    };
  }

  private async commit(pass: EntityCheckpoint, records: DataRecord[]): Promise<void> {
    assertNoSecret(this.entity.name, pass.fetchState, this.ctx.secrets);
    await this.ctx.hooks?.beforeCommit?.(this.entity.name, pass.seq);
    this.ctx.leaseLost?.throwIfAborted();
    await this.ctx.destination.writeChunk({
      table: this.ref,
      primaryKey: this.entity.primaryKey,
      records,
      checkpoint: pass,
      syncedAt: new Date().toISOString(),
      fence: this.ctx.fence,
    });
    this.committed += records.length;
    this.chunks++;
    this.progress();
    await this.ctx.hooks?.afterCommit?.(this.entity.name, pass.seq);
    await this.applyChanges();
  }

  /**
   * Applies the entity's pending changes (webhooks) as its writer, one application at a time.
   * A failure is logged and left for the next chunk: the pull goes on (it heals what a change
   * carried anyway); a stale fence is the lost lease, and ends the entity as any commit would.
   */
  private applyChanges(): Promise<void> {
    const feed = this.ctx.changes;
    if (!feed) return Promise.resolve();
    const apply = async () => {
      this.ctx.leaseLost?.throwIfAborted();
      try {
        const applied = await feed.applyPending(this.entity, this.ctx.destination, this.ctx.fence);
        if (applied > 0) this.log("info", `applied ${applied} webhook events received meanwhile`);
      } catch (err) {
        if (err instanceof StaleFenceError) throw err;
        this.log("warn", `could not apply the pending webhook events (${describe(err)}); the next chunk tries again`);
      }
    };
    this.applying = this.applying.then(apply, apply);
    return this.applying;
  }

  private applying: Promise<void> = Promise.resolve();

  /** Ends the pass: the new mark takes effect, and a full refresh marks unseen rows deleted. */
  private async complete(pass: EntityCheckpoint): Promise<number> {
    const markFromConnector = pass.fetchState?.metadata?.highWaterMark;
    const highWaterMark =
      typeof markFromConnector === "string" || typeof markFromConnector === "number"
        ? markFromConnector
        : latest(pass.highWaterMark, pass.maxCursor);
    this.ctx.leaseLost?.throwIfAborted();
    const wholeRead = pass.mode === "full_refresh" || !this.entity.incremental;
    // A full refresh's swap replaces the live table, where changes received during the pass
    // were applied: they are applied again right after it, or they would vanish.
    const changes = pass.mode === "full_refresh" && this.ctx.changes ? await this.ctx.changes.receivedSince(this.entity, pass.passStartedAt) : undefined;
    const { deleted } = await this.ctx.destination.completeEntity({
      table: this.ref,
      primaryKey: this.entity.primaryKey,
      checkpoint: { ...pass, runId: this.ctx.runId, seq: 0, fetchState: null, maxCursor: null, highWaterMark },
      // A pass that read the whole entity (full refresh, or an entity that cannot be read
      // incrementally) knows that rows it did not see are gone at the source.
      markUnseenDeletedBefore: wholeRead ? pass.passStartedAt : undefined,
      deletedAt: new Date().toISOString(),
      fence: this.ctx.fence,
      ...(changes?.length ? { changes } : {}),
    });
    if (deleted > 0) this.log("info", `marked ${deleted} rows not seen in this full refresh as deleted`);
    return deleted;
  }

  /** A state that does not move while claiming more records would loop forever. */
  private checkLoop(before: FetchState | null, chunk: FetchedChunk, emptyChunks: number): void {
    if (!chunk.state.hasMore) return;
    if (before && samePosition(before, chunk.state)) {
      throw new PermanentSyncError(
        `entity "${this.entity.name}": detected a loop — the source returned the same position (${position(chunk.state)}) twice while claiming more records`,
      );
    }
    const limit = positive(this.ctx.settings.maxEmptyChunks, MAX_EMPTY_CHUNKS);
    if (chunk.count === 0 && emptyChunks + 1 >= limit) {
      throw new PermanentSyncError(
        `entity "${this.entity.name}": detected a loop — ${limit} chunks in a row returned no records while claiming more (raise settings.maxEmptyChunks if that is expected)`,
      );
    }
  }

  private progress(): void {
    this.ctx.emit({
      type: "progress",
      entity: this.entity.name,
      fetched: this.fetched,
      committed: this.committed,
      total: this.total,
      chunks: this.chunks,
      elapsedMs: Date.now() - this.started,
    });
  }

  private log(level: LogLevel, message: string): void {
    this.ctx.emit({ type: "log", level, message, entity: this.entity.name });
  }

  private result(
    status: EntityResult["status"],
    pass: EntityCheckpoint | undefined,
    resumed: boolean,
    deleted: number,
    error?: string,
  ): EntityResult {
    return {
      entity: this.entity.name,
      status,
      records: this.committed,
      chunks: this.chunks,
      seconds: (Date.now() - this.started) / 1000,
      deleted,
      resumed,
      mode: pass?.mode ?? (this.ctx.fullRefresh ? "full_refresh" : "incremental"),
      since: pass?.since ?? null,
      chunkRetries: this.chunkRetries,
      error,
    };
  }
}

/**
 * When the request behind each batch began, at the latest: a connector reads a page, hands it to
 * onBatch, then requests the next, so batch 1 was read after the fetch call began and batch k
 * after batch k-1 was handed over. A record ranks as the state at that time (a lower bound of
 * its read). A connector that requests pages ahead gives versions itself (`withVersion`).
 */
function readClock(): { batch(): number } {
  let since = microsOf(Date.now());
  return {
    batch() {
      const at = since;
      since = microsOf(Date.now());
      return at;
    },
  };
}

/** Marks a promise as handled now (it is awaited later), so an early rejection is not "unhandled". */
function observed<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function positive(value: number | undefined, fallback: number): number {
  return typeof value === "number" && value > 0 ? Math.floor(value) : fallback;
}

function position(s: FetchState): string {
  return JSON.stringify({ offset: s.offset, cursor: s.cursor, page: s.page, metadata: s.metadata });
}

/** Same non-empty position; a state without one (memory-only connectors) says nothing. */
function samePosition(a: FetchState, b: FetchState): boolean {
  const p = position(a);
  return p !== "{}" && p === position(b);
}

/** Secrets shorter than this could match a cursor by chance; the HTTP client redacts them anyway. */
const MIN_CHECKED_SECRET = 8;

/**
 * A connector's checkpoint is stored as it is: one that carries a credential (a next-page URL
 * with the API key in its query, say) would put it at rest in clear. Refused, not stored.
 */
function assertNoSecret(entity: string, state: FetchState | null, secrets: string[] | undefined): void {
  if (!state || !secrets?.length) return;
  const text = JSON.stringify(state);
  for (const s of secrets) {
    if (s.length < MIN_CHECKED_SECRET) continue;
    if (text.includes(JSON.stringify(s).slice(1, -1)) || text.includes(encodeURIComponent(s))) {
      throw new PermanentSyncError(`entity "${entity}": the connector's checkpoint holds one of the source's secrets in clear; it was not stored (the connector must keep credentials out of its FetchState)`);
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
