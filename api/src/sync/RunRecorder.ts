import type { MetadataStore } from "../store/MetadataStore";
import { emptyStats, type EntityResult, type RequestStats, type RunResult, type SyncEvent } from "./events";

const FLUSH_MS = 500;
/** A quiet run (waiting on a rate limit, say) still saves and reads its record this often. */
const HEARTBEAT_MS = 1000;

/**
 * Where a recorder writes: the metadata store, or (a worker's job) writes that only land while
 * the worker still holds the entity's lease, and that renew it.
 */
export type RunSink = Pick<MetadataStore, "appendLogs" | "updateRun" | "finishRun">;

/**
 * Turns a run's events into its stored record: log lines and per-entity progress are
 * buffered and written every half second, so a busy sync does not write per batch. Each write
 * reads back the run's cancel flag, so `mako runs cancel` stops a run of any process. A write
 * that fails (the database restarting, say) is kept and tried again at the next one.
 */
export class RunRecorder {
  private readonly entities = new Map<string, EntityResult>();
  /** Entities running now, and the request retries credited to each (as the live view counts them). */
  private readonly running = new Set<string>();
  private readonly requestRetries = new Map<string, number>();
  private stats: RequestStats = emptyStats();
  /** The request counters already added to the stored run. */
  private written: RequestStats = emptyStats();
  private logs: Parameters<MetadataStore["appendLogs"]>[0] = [];
  private timer?: NodeJS.Timeout;
  private dirty = false;
  private cancelSeen = false;
  private writing: Promise<void> = Promise.resolve();
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly sink: RunSink,
    private readonly runId: string,
    entities: string[],
    /** Called (once) when the stored run says someone asked it to stop. */
    private readonly onCancelRequested: () => void = () => {},
  ) {
    for (const entity of entities) this.entities.set(entity, pending(entity));
    this.heartbeat = setInterval(() => {
      this.dirty = true;
      void this.flush();
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  record(event: SyncEvent): void {
    switch (event.type) {
      case "log":
        this.logs.push({ runId: this.runId, at: new Date().toISOString(), level: event.level, entity: event.entity ?? null, message: event.message });
        break;
      case "entity_started": {
        const e = this.entities.get(event.entity) ?? pending(event.entity);
        this.entities.set(event.entity, { ...e, status: "running", resumed: event.resumed, mode: event.mode, since: event.since });
        this.running.add(event.entity);
        break;
      }
      case "progress": {
        const e = this.entities.get(event.entity) ?? pending(event.entity);
        this.entities.set(event.entity, { ...e, records: event.committed, chunks: event.chunks, seconds: event.elapsedMs / 1000 });
        break;
      }
      case "entity_finished":
        this.entities.set(event.result.entity, event.result);
        this.running.delete(event.result.entity);
        break;
      case "stats": {
        const retried = event.stats.retries - this.stats.retries;
        if (retried > 0) for (const entity of this.running) this.requestRetries.set(entity, (this.requestRetries.get(entity) ?? 0) + retried);
        this.stats = event.stats;
        break;
      }
    }
    this.dirty = true;
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** The entities as recorded so far (request retries credited). */
  results(): EntityResult[] {
    return [...this.entities.values()].map(this.withRetries);
  }

  /** Stops the timers and writes what is left; throws when that last write fails. */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
    this.dirty = true;
    await this.write();
  }

  async finish(result: RunResult): Promise<void> {
    for (const e of result.entities) this.entities.set(e.entity, e);
    this.stats = result.stats;
    await this.close();
    await this.sink.finishRun(this.runId, { status: result.status, error: result.error ?? null });
  }

  async fail(message: string): Promise<void> {
    await this.close();
    await this.sink.finishRun(this.runId, { status: "failed", error: message });
  }

  private readonly withRetries = (e: EntityResult): EntityResult => {
    const retries = this.requestRetries.get(e.entity);
    return retries ? { ...e, requestRetries: retries } : e;
  };

  /** A timer's write: one at a time; a failure waits for the next. */
  private flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(() => this.write()).catch(() => {});
    return this.writing;
  }

  private async write(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const logs = this.logs;
    this.logs = [];
    const stats = { ...this.stats };
    const addStats = difference(stats, this.written);
    try {
      if (logs.length) await this.sink.appendLogs(logs);
    } catch (err) {
      this.logs = [...logs, ...this.logs];
      this.dirty = true;
      throw err;
    }
    try {
      const { cancelRequested } = await this.sink.updateRun(this.runId, { entities: this.results(), addStats });
      this.written = stats;
      if (cancelRequested && !this.cancelSeen) {
        this.cancelSeen = true;
        this.onCancelRequested();
      }
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }
}

function difference(a: RequestStats, b: RequestStats): RequestStats {
  return { requests: a.requests - b.requests, retries: a.retries - b.retries, rateLimited: a.rateLimited - b.rateLimited, waitMs: a.waitMs - b.waitMs };
}

function pending(entity: string): EntityResult {
  return {
    entity,
    status: "running",
    records: 0,
    chunks: 0,
    seconds: 0,
    deleted: 0,
    resumed: false,
    mode: "incremental",
    since: null,
    chunkRetries: 0,
  };
}
