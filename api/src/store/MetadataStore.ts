import type { DataSourceSettings, LogLevel } from "../connectors/base/types";
import type { EntityResult, RequestStats, RunStatus } from "../sync/events";
import type { ScheduleStore } from "./ScheduleStore";
import type { WebhookInbox } from "./WebhookInbox";

export interface SourceRecord {
  name: string;
  connector: string;
  /** Decrypted; redact before showing it. */
  config: Record<string, unknown>;
  settings: DataSourceSettings;
  /** Default destination's name; null = the embedded SQLite file. */
  destination: string | null;
  /** The entities a sync without an explicit choice reads; null = all of the connector's. */
  entities: string[] | null;
  createdAt: string;
  updatedAt: string;
}

/** What adding a source takes: no entity selection = all entities. */
export type NewSource = Omit<SourceRecord, "createdAt" | "updatedAt" | "entities"> & { entities?: string[] | null };

export interface DestinationRecord {
  name: string;
  kind: string;
  /** Decrypted connection URL (or file path); redact before showing it. */
  url: string;
  createdAt: string;
}

/** What started a run: someone (the CLI, the UI, the API), or the source's schedule. */
export type RunTrigger = "manual" | "schedule";

export interface RunRecord {
  id: string;
  source: string;
  status: RunStatus;
  trigger: RunTrigger;
  fullRefresh: boolean;
  destination: string | null;
  startedAt: string;
  finishedAt: string | null;
  /** Per-entity results; entries with status "running" show progress so far. */
  entities: EntityResult[];
  stats: RequestStats;
  error: string | null;
  /** The process that started it (`mako sync`, the server) or, for `executor: "workers"`, that handed it to the workers. */
  pid: number;
  host: string;
  /** Who runs it: the process that started it, or `mako worker`s (PostgreSQL; `mako sync --enqueue`). */
  executor: "process" | "workers";
}

export interface LogLine {
  id: number;
  runId: string;
  at: string;
  level: LogLevel;
  entity: string | null;
  message: string;
}

export class SourceBusyError extends Error {
  constructor(readonly source: string, readonly runId: string) {
    super(`source "${source}" is already syncing (run ${runId}); wait for it or cancel it: npx mako runs cancel ${source}`);
  }
}

export class NotFoundError extends Error {}
export class ConflictError extends Error {}

/** Where Mako keeps its own records: sources, destinations, runs and their logs. */
export interface MetadataStore {
  /** Verified webhook events waiting to be applied. */
  readonly inbox: WebhookInbox;
  /** Sources' schedules, and the claim of due slots a scheduler makes at each tick. */
  readonly schedules: ScheduleStore;

  addSource(source: NewSource): Promise<SourceRecord>;
  getSource(name: string): Promise<SourceRecord>;
  listSources(): Promise<SourceRecord[]>;
  /** Names only: nothing decrypted. */
  listSourceNames(): Promise<string[]>;
  updateSource(name: string, patch: Partial<Pick<SourceRecord, "config" | "settings" | "destination" | "entities">>): Promise<SourceRecord>;
  /** Fails with SourceBusyError while a run of the source is live (checked with the delete, atomically). */
  removeSource(name: string): Promise<void>;

  addDestination(destination: Omit<DestinationRecord, "createdAt">): Promise<DestinationRecord>;
  getDestination(name: string): Promise<DestinationRecord>;
  listDestinations(): Promise<DestinationRecord[]>;
  updateDestination(name: string, patch: Pick<DestinationRecord, "url">): Promise<DestinationRecord>;
  removeDestination(name: string): Promise<void>;

  /**
   * Records a new run of this process, with a row per entity (none yet when `entities` is left
   * out); fails with SourceBusyError while a live run holds the source.
   */
  startRun(run: Pick<RunRecord, "id" | "source" | "fullRefresh" | "destination"> & { entities?: string[]; trigger?: RunTrigger }): Promise<RunRecord>;
  /**
   * Saves a live run's progress: the entities given (others are left as they are) and request
   * counters added to the run's. Says whether it must stop: someone asked (`requestCancel`), or
   * the run is over (judged dead and failed while this process could not write, say).
   */
  updateRun(id: string, patch: { entities: EntityResult[]; addStats: RequestStats }): Promise<{ cancelRequested: boolean }>;
  /** Asks a running run to stop, whichever process or worker runs it; false when it is not running. */
  requestCancel(id: string): Promise<boolean>;
  /** Ends a running run (a run already ended, judged dead say, keeps its end). */
  finishRun(id: string, patch: Pick<RunRecord, "status" | "error">): Promise<void>;
  getRun(id: string): Promise<RunRecord>;
  listRuns(filter?: { source?: string; limit?: number }): Promise<RunRecord[]>;
  /** The destinations a source's runs wrote to, each once (null: the default database). */
  runDestinations(source: string): Promise<Array<string | null>>;
  appendLogs(lines: Omit<LogLine, "id">[]): Promise<void>;
  getLogs(runId: string, options?: { afterId?: number; limit?: number }): Promise<LogLine[]>;
  close(): Promise<void>;
}
