import type { z } from "zod";
import type { EntityDescriptor } from "../connectors/base/types";
import type { RunRecord, SourceRecord } from "../store/MetadataStore";
import { redactConfig, secretPaths, secretStates } from "../store/redact";

// What the API returns: stored records reshaped for the UI, with secrets reduced to set/unset.

export interface SourceView {
  name: string;
  connector: string;
  /** Config without secret values. */
  config: Record<string, unknown>;
  /** Each secret field by path (`api_key`, `auth.token`): whether a value is stored. Values are never returned. */
  secrets: Record<string, "set" | "unset">;
  settings: Record<string, unknown>;
  destination: string | null;
  /** The entities a sync reads unless told otherwise; null = all. */
  entities: string[] | null;
  /** Every entity the source can sync (a REST or GraphQL source's come from its config). */
  availableEntities: EntityDescriptor[];
  createdAt: string;
  updatedAt: string;
  lastRun: RunView | null;
}

/** `source` must already be redacted by the facade; what is secret comes from the connector's schema. */
export function sourceView(source: SourceRecord, schema: z.ZodType, lastRun: RunRecord | null, availableEntities: EntityDescriptor[]): SourceView {
  const config = redactConfig(source.config, secretPaths(schema, source.config), "remove");
  const secrets = secretStates(schema, source.config);
  return {
    name: source.name,
    connector: source.connector,
    config,
    secrets,
    settings: source.settings,
    destination: source.destination,
    entities: source.entities,
    availableEntities,
    createdAt: source.createdAt,
    updatedAt: source.updatedAt,
    lastRun: lastRun ? runView(lastRun) : null,
  };
}

export interface EntityRunView {
  entity: string;
  status: string;
  records: number;
  durationMs: number;
  recordsPerSecond: number;
  retries: number;
  deleted: number;
  resumed: boolean;
  mode: string;
  /** Run by workers and taken over: how many times a worker took it up, and which. */
  attempts?: number;
  workers?: string[];
  error?: string;
}

export interface RunView {
  id: string;
  source: string;
  status: RunRecord["status"];
  /** "schedule" when the source's schedule started it. */
  trigger: RunRecord["trigger"];
  fullRefresh: boolean;
  destination: string | null;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  records: number;
  entities: EntityRunView[];
  /** Requests, retries and rate-limit waits of the whole run. */
  stats: RunRecord["stats"];
  error: string | null;
}

export function runView(run: RunRecord): RunView {
  const entities = run.entities.map((e): EntityRunView => {
    // The store lists entities not started yet as running with nothing done.
    const notStarted = run.status === "running" && e.status === "running" && e.chunks === 0 && e.records === 0 && e.seconds === 0;
    return {
      entity: e.entity,
      status: notStarted ? "pending" : e.status,
      records: e.records,
      durationMs: Math.round(e.seconds * 1000),
      recordsPerSecond: e.seconds > 0 ? Math.round(e.records / e.seconds) : 0,
      // What the live view showed: request retries while it ran, plus chunk retries.
      retries: e.chunkRetries + (e.requestRetries ?? 0),
      deleted: e.deleted,
      resumed: e.resumed,
      mode: e.mode,
      ...(e.attempts ? { attempts: e.attempts, workers: e.workers ?? [] } : {}),
      ...(e.error ? { error: e.error } : {}),
    };
  });
  return {
    id: run.id,
    source: run.source,
    status: run.status,
    trigger: run.trigger,
    fullRefresh: run.fullRefresh,
    destination: run.destination,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    durationMs: run.finishedAt ? Date.parse(run.finishedAt) - Date.parse(run.startedAt) : null,
    records: entities.reduce((n, e) => n + e.records, 0),
    entities,
    stats: run.stats,
    error: run.error,
  };
}
