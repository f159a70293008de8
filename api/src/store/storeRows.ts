import type { DataSourceSettings } from "../connectors/base/types";
import { emptyStats, type EntityResult, type RequestStats } from "../sync/events";
import type { RunRecord, SourceRecord } from "./MetadataStore";
import type { SecretBox } from "./SecretBox";

/**
 * What SqliteStore and PostgresStore share: their rows' shape, the mapping to records, and the
 * wording users see. SQLite hands back JSON as text and booleans as 0/1; PostgreSQL as parsed
 * jsonb and booleans; the mapping takes either.
 */

type Json<T> = string | T;

export interface SourceRow {
  name: string;
  connector: string;
  config_sealed: string;
  settings_json: Json<DataSourceSettings>;
  destination: string | null;
  /** Null (and in databases from before the column, missing) = all entities. */
  entities_json?: Json<string[]> | null;
  created_at: string;
  updated_at: string;
}

export interface DestinationRow {
  name: string;
  kind: string;
  url_sealed: string;
  created_at: string;
}

export interface RunRow {
  id: string;
  source: string;
  status: RunRecord["status"];
  /** Missing in rows read before the column existed. */
  triggered_by?: RunRecord["trigger"] | null;
  full_refresh: number | boolean;
  destination: string | null;
  started_at: string;
  finished_at: string | null;
  stats_json: Json<Partial<RequestStats>>;
  error: string | null;
  pid: number;
  host: string;
  /** PostgreSQL only; SQLite runs are all the process's. */
  executor?: RunRecord["executor"];
}

/**
 * One entity of a run (`run_entities`): its result so far. Several workers write one run, each
 * its own entities' rows, where one blob per run would have them overwrite each other.
 */
export interface RunEntityRow {
  run_id: string;
  entity: string;
  /** "queued" (PostgreSQL: waiting for a worker), "running", or a finished entity's status. */
  status: string;
  result_json: Json<EntityResult>;
  /** PostgreSQL only: what workers did with it. */
  attempts?: number;
  workers?: Json<string[]>;
}

const parsed = <T>(value: Json<T>): T => (typeof value === "string" ? (JSON.parse(value) as T) : value);

export function sourceFrom(row: SourceRow, secrets: SecretBox): SourceRecord {
  return {
    name: row.name,
    connector: row.connector,
    config: JSON.parse(secrets.decrypt(row.config_sealed, `the config of source "${row.name}"`)),
    settings: parsed(row.settings_json),
    destination: row.destination,
    entities: entitiesFrom(row.entities_json),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function destinationFrom(row: DestinationRow, secrets: SecretBox) {
  return { name: row.name, kind: row.kind, url: secrets.decrypt(row.url_sealed, `destination "${row.name}"`), createdAt: row.created_at };
}

/** A run and its entity rows (in the order the run lists them). */
export function runFrom(row: RunRow, entityRows: RunEntityRow[]): RunRecord {
  return {
    id: row.id,
    source: row.source,
    status: row.status,
    trigger: row.triggered_by ?? "manual",
    fullRefresh: row.full_refresh === 1 || row.full_refresh === true,
    destination: row.destination,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    entities: settled(row.status, entityRows.map(entityFrom)),
    stats: { ...emptyStats(), ...parsed(row.stats_json) },
    error: row.error,
    pid: row.pid,
    host: row.host,
    executor: row.executor ?? "process",
  };
}

/** An entity row as the run's record shows it: waiting for a worker reads as running, nothing done yet. */
function entityFrom(row: RunEntityRow): EntityResult {
  const result = parsed(row.result_json);
  const status = row.status === "queued" ? "running" : (row.status as EntityResult["status"]);
  const workers = row.workers === undefined ? [] : parsed(row.workers);
  return { ...result, status, ...(row.attempts ? { attempts: row.attempts, workers } : {}) };
}

/** The row an entity of a new run starts with: nothing done yet. */
export function notStarted(entity: string, fullRefresh: boolean): EntityResult {
  return { entity, status: "running", records: 0, chunks: 0, seconds: 0, deleted: 0, resumed: false, mode: fullRefresh ? "full_refresh" : "incremental", since: null, chunkRetries: 0 };
}

/** Request counters added to a run's: what RunRecorder sends as it goes. */
export function addedStats(stored: Json<Partial<RequestStats>>, added: RequestStats): RequestStats {
  const base = { ...emptyStats(), ...parsed(stored) };
  return { requests: base.requests + added.requests, retries: base.retries + added.retries, rateLimited: base.rateLimited + added.rateLimited, waitMs: base.waitMs + added.waitMs };
}

function entitiesFrom(value: Json<string[]> | null | undefined): string[] | null {
  const list = value === null || value === undefined ? null : parsed(value);
  return Array.isArray(list) && list.length > 0 ? list : null;
}

/** A source's saved entity selection as stored: null for "all" (an empty list means all too). */
export const entitiesJson = (entities: string[] | null | undefined) => (entities?.length ? JSON.stringify(entities) : null);

/** An ended run's entities that never finished (its process was killed, say) were interrupted. */
function settled(status: RunRecord["status"], entities: EntityResult[]): EntityResult[] {
  if (status === "running") return entities;
  return entities.map((e) => (e.status === "running" ? { ...e, status: "interrupted" } : e));
}

export const sealConfig = (secrets: SecretBox, config: Record<string, unknown>) => secrets.encrypt(JSON.stringify(config));

/** Messages both stores give, so a user sees the same words whichever holds the metadata. */
export const storeMessages = {
  sourceExists: (name: string) => `a source named "${name}" already exists`,
  noSource: (name: string) => `no source named "${name}" (see: npx mako sources list)`,
  destinationExists: (name: string) => `a destination named "${name}" already exists`,
  noDestination: (name: string) => `no destination named "${name}" (see: npx mako destinations list)`,
  destinationInUse: (name: string, sources: string[]) =>
    `destination "${name}" is the default of source ${sources.map((u) => `"${u}"`).join(", ")}`,
  noRun: (id: string) => `no run with id "${id}"`,
  processStopped: (pid: number, host?: string) =>
    `the process running it (pid ${pid}${host ? ` on ${host}` : ""}) stopped; the next sync resumes from the last checkpoint`,
  workersStopped: (entities: string[]) =>
    `the worker running ${entities.map((e) => `"${e}"`).join(", ")} stopped and no live worker could take it over; the next sync resumes from the last checkpoint`,
};

/** Whether a process of this host is still running (EPERM: it is, under another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
