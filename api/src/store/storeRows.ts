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
  entities_json: Json<EntityResult[]>;
  stats_json: Json<Partial<RequestStats>>;
  error: string | null;
  pid: number;
  host: string;
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

export function runFrom(row: RunRow): RunRecord {
  return {
    id: row.id,
    source: row.source,
    status: row.status,
    trigger: row.triggered_by ?? "manual",
    fullRefresh: row.full_refresh === 1 || row.full_refresh === true,
    destination: row.destination,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    entities: settled(row.status, parsed(row.entities_json)),
    stats: { ...emptyStats(), ...parsed(row.stats_json) },
    error: row.error,
    pid: row.pid,
    host: row.host,
  };
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
  processStopped: (pid: number) => `the process running it (pid ${pid}) stopped; the next sync resumes from the last checkpoint`,
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
