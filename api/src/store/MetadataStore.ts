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
  pid: number;
  host: string;
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

  /** Records a new run; fails with SourceBusyError while a live run holds the source. */
  startRun(run: Pick<RunRecord, "id" | "source" | "fullRefresh" | "destination"> & { trigger?: RunTrigger }): Promise<RunRecord>;
  /** Saves a live run's progress; says whether someone asked it to stop (`requestCancel`). */
  updateRun(id: string, patch: Pick<RunRecord, "entities" | "stats">): Promise<{ cancelRequested: boolean }>;
  /** Asks a running run to stop, whichever process runs it; false when it is not running. */
  requestCancel(id: string): Promise<boolean>;
  finishRun(id: string, patch: Pick<RunRecord, "status" | "entities" | "stats" | "error">): Promise<void>;
  getRun(id: string): Promise<RunRecord>;
  listRuns(filter?: { source?: string; limit?: number }): Promise<RunRecord[]>;
  /** The destinations a source's runs wrote to, each once (null: the default database). */
  runDestinations(source: string): Promise<Array<string | null>>;
  appendLogs(lines: Omit<LogLine, "id">[]): Promise<void>;
  getLogs(runId: string, options?: { afterId?: number; limit?: number }): Promise<LogLine[]>;
  close(): Promise<void>;
}
