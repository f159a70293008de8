import type { LogLevel, WaitReason } from "../connectors/base/types";
import type { Mako, SyncOptions } from "../Mako";
import { emptyStats, type EntityStatus, type RequestStats, type SyncEvent } from "../sync/events";
import { runView, type RunView } from "./views";

/** Live figures of one entity, as the `progress` Server-Sent Event carries them. */
export interface ProgressPayload {
  entity: string;
  /** Fetched so far. */
  records: number;
  /** Written to the destination so far: what a preview of the table can show. */
  committed: number;
  total?: number;
  recordsPerSecond: number;
  retries: number;
  rateLimited: number;
  /** True from a wait (rate limit, or a retry's backoff) until the entity makes progress again. */
  waiting: boolean;
  /** What it waits on, while `waiting`: the rate limit, or a retry after a network error, a timeout or a server error. */
  waitingOn?: WaitReason;
  status: "pending" | EntityStatus;
}

export interface LogPayload {
  at: string;
  level: LogLevel;
  message: string;
  entity?: string;
}

export type LiveMessage =
  | { event: "progress"; data: ProgressPayload }
  | { event: "log"; data: LogPayload }
  | { event: "end"; data: RunView };

const FLUSH_MS = 200;
const MAX_LOG_LINES = 2000;
/** Ended runs stay a while so a subscriber that connects late still gets their end. */
const KEEP_ENDED_MS = 60_000;

/** One run started by this server: its live state, and who listens to it. */
export class LiveRun {
  readonly progress = new Map<string, ProgressPayload>();
  readonly logs: LogPayload[] = [];
  ended?: RunView;
  private readonly listeners = new Set<(m: LiveMessage) => void>();
  private readonly dirty = new Set<string>();
  private timer?: NodeJS.Timeout;
  private stats: RequestStats = emptyStats();

  constructor(entities: string[]) {
    for (const entity of entities) this.progress.set(entity, blank(entity));
  }

  /** Current state as messages, for a subscriber that just connected. */
  snapshot(): LiveMessage[] {
    const out: LiveMessage[] = [...this.progress.values()].map((data) => ({ event: "progress", data: { ...data } }));
    for (const data of this.logs) out.push({ event: "log", data });
    if (this.ended) out.push({ event: "end", data: this.ended });
    return out;
  }

  subscribe(listener: (m: LiveMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  handle(event: SyncEvent): void {
    switch (event.type) {
      case "entity_started":
        this.update(event.entity, { status: "running", waiting: false, waitingOn: undefined }, true);
        break;
      case "progress": {
        const seconds = event.elapsedMs / 1000;
        this.update(event.entity, {
          status: "running",
          records: event.fetched,
          committed: event.committed,
          total: event.total,
          recordsPerSecond: seconds > 0 ? Math.round(event.fetched / seconds) : 0,
          waiting: false,
          waitingOn: undefined,
        });
        break;
      }
      case "entity_finished": {
        const r = event.result;
        this.update(
          r.entity,
          {
            status: r.status,
            records: r.records,
            committed: r.records,
            recordsPerSecond: r.seconds > 0 ? Math.round(r.records / r.seconds) : 0,
            waiting: false,
            waitingOn: undefined,
            retries: (this.progress.get(r.entity)?.retries ?? 0) + r.chunkRetries,
          },
          true,
        );
        break;
      }
      case "stats":
        this.attribute(event.stats);
        break;
      case "waiting":
        for (const p of this.progress.values()) {
          if (p.status === "running") this.update(p.entity, { waiting: true, waitingOn: event.reason });
        }
        break;
      case "log": {
        const line: LogPayload = { at: new Date().toISOString(), level: event.level, message: event.message, ...(event.entity ? { entity: event.entity } : {}) };
        this.logs.push(line);
        if (this.logs.length > MAX_LOG_LINES) this.logs.shift();
        this.send({ event: "log", data: line });
        break;
      }
    }
  }

  finish(run: RunView): void {
    this.flush();
    this.ended = run;
    this.send({ event: "end", data: run });
    this.listeners.clear();
  }

  /**
   * Request counters are per run; they are credited to the entity running when they moved
   * (with several entities at once, to each of them: their requests share one rate limit).
   */
  private attribute(stats: RequestStats): void {
    const retries = stats.retries - this.stats.retries;
    const limited = stats.rateLimited - this.stats.rateLimited;
    const waited = stats.waitMs - this.stats.waitMs;
    this.stats = { ...stats };
    if (retries <= 0 && limited <= 0 && waited <= 0) return;
    for (const p of this.progress.values()) {
      if (p.status !== "running") continue;
      this.update(p.entity, {
        retries: p.retries + Math.max(0, retries),
        rateLimited: p.rateLimited + Math.max(0, limited),
        waiting: p.waiting || limited > 0 || waited > 0,
        // Waits no one explained (token-bucket pacing, a paused limiter) are the rate limit's.
        waitingOn: p.waitingOn ?? (limited > 0 || waited > 0 ? "rate_limit" : undefined),
      });
    }
  }

  private update(entity: string, patch: Partial<ProgressPayload>, now = false): void {
    this.progress.set(entity, { ...(this.progress.get(entity) ?? blank(entity)), ...patch });
    this.dirty.add(entity);
    if (now) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const entity of this.dirty) this.send({ event: "progress", data: { ...this.progress.get(entity)! } });
    this.dirty.clear();
  }

  private send(message: LiveMessage): void {
    for (const listener of this.listeners) listener(message);
  }
}

function blank(entity: string): ProgressPayload {
  return { entity, records: 0, committed: 0, recordsPerSecond: 0, retries: 0, rateLimited: 0, waiting: false, status: "pending" };
}

/** The runs this server started, by id. */
export class LiveRuns {
  private readonly runs = new Map<string, LiveRun>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly mako: Mako) {}

  get(id: string): LiveRun | undefined {
    return this.runs.get(id);
  }

  /** Starts a sync and follows it; resolves with the run id once the run is recorded. */
  async start(source: string, options: Omit<SyncOptions, "onEvent" | "signal">): Promise<string> {
    const stored = await this.mako.sources.unredacted(source);
    // The source's own entities: a REST or GraphQL source declares them in its config.
    const all = this.mako.createConnector(stored.connector, stored).describeEntities().map((e) => e.name);
    // Events can arrive before sync() resolves: the live run exists before the call.
    const live = new LiveRun(options.entities?.length ? options.entities : (stored.entities ?? all));
    const { runId, done } = await this.mako.sync(source, { ...options, onEvent: (e) => live.handle(e) });
    this.runs.set(runId, live);
    const end = async () => {
      let view: RunView;
      try {
        view = runView(await this.mako.runs.get(runId));
      } catch (err) {
        view = { ...placeholderRun(runId, source), status: "failed", error: err.message };
      }
      live.finish(view);
      const timer = setTimeout(() => {
        this.runs.delete(runId);
        this.timers.delete(timer);
      }, KEEP_ENDED_MS);
      timer.unref();
      this.timers.add(timer);
    };
    // A failed run is recorded by the facade; the error is in the run's view.
    done.then(end, end);
    return runId;
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

function placeholderRun(id: string, source: string): RunView {
  const now = new Date().toISOString();
  return { id, source, status: "failed", trigger: "manual", fullRefresh: false, destination: null, startedAt: now, finishedAt: now, durationMs: 0, records: 0, entities: [], stats: emptyStats(), error: null };
}
