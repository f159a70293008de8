import Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import type { BaseConnector } from "./connectors/base/BaseConnector";
import type { DataSourceSettings, EntityDescriptor } from "./connectors/base/types";
import { settingsSchema } from "./connectors/base/settingsSchema";
import { validateConfig } from "./connectors/base/validateConfig";
import { connectorRegistry, type SourceConnector } from "./connectors/registry";
import type { Destination } from "./destinations/Destination";
import { SqliteDestination } from "./destinations/sqlite/SqliteDestination";
import { destinationKinds } from "./destinations/factory";
import { isDestinationKind, openDestinationFor } from "./destinations/open";
import { ConflictError, NotFoundError, type DestinationRecord, type MetadataStore, type SourceRecord } from "./store/MetadataStore";
import { SecretBox } from "./store/SecretBox";
import { SqliteStore } from "./store/SqliteStore";
import { METADATA_SCHEMA, PostgresStore, isPostgresUrl, serverOf } from "./store/PostgresStore";
import { PostgresDestination } from "./destinations/postgres/PostgresDestination";
import { REDACTED, redactConfig, secretFieldNames } from "./store/redact";
import { RunRecorder } from "./sync/RunRecorder";
import { SyncEngine, UnknownEntityError } from "./sync/SyncEngine";
import type { SyncHooks } from "./sync/EntitySync";
import type { RunResult, SyncEvent } from "./sync/events";

/** Bad input from a user: the message names the field; `field` says which one. */
export class ValidationError extends Error {
  readonly retryable = false;
  constructor(message: string, readonly field?: string) {
    super(message);
  }
}

export { ConflictError, NotFoundError };

export interface ConnectorInfo {
  id: string;
  name: string;
  version: string;
  description: string;
  author?: string;
  entities: EntityDescriptor[];
  /** JSON Schema of the config; secret fields carry `secret: true`. */
  configSchema: unknown;
  resumable: boolean;
}

export interface SyncOptions {
  entities?: string[];
  fullRefresh?: boolean;
  /** A destination's name; the source's default (or Mako's default destination) otherwise. */
  destination?: string;
  signal?: AbortSignal;
  onEvent?: (event: SyncEvent) => void;
  hooks?: SyncHooks;
}

export interface StartedSync {
  runId: string;
  done: Promise<RunResult>;
}

const SOURCE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** How long a write waits for another process's lock on mako.db (MAKO_BUSY_TIMEOUT_MS, default 5 s). */
export const busyTimeoutMs = (env: NodeJS.ProcessEnv = process.env) => {
  const ms = Number(env.MAKO_BUSY_TIMEOUT_MS);
  return Number.isFinite(ms) && ms >= 0 && env.MAKO_BUSY_TIMEOUT_MS !== "" ? ms : 5000;
};

/** The default MAKO_HOME: `./.mako` in the working directory. */
export const defaultHome = (env: NodeJS.ProcessEnv = process.env) => resolve(env.MAKO_HOME || ".mako");

/**
 * Mako as the CLI and the HTTP server use it: connectors, sources, destinations and runs,
 * over the metadata store and the sync engine.
 */
export class Mako {
  readonly connectors = {
    list: (): ConnectorInfo[] => Object.keys(connectorRegistry).map((id) => this.connectorInfo(id)),
    get: (id: string): ConnectorInfo => this.connectorInfo(id),
  };

  readonly sources = {
    add: (input: { name: string; connector: string; config: unknown; settings?: DataSourceSettings; destination?: string | null }) =>
      this.addSource(input),
    list: async () => (await this.store.listSources()).map((s) => this.redacted(s)),
    get: async (name: string) => this.redacted(await this.store.getSource(name)),
    /** The stored source with secrets in clear: for running it, never for showing it. */
    unredacted: (name: string) => this.store.getSource(name),
    update: (name: string, patch: { config?: unknown; settings?: DataSourceSettings; destination?: string | null }) =>
      this.updateSource(name, patch),
    remove: (name: string) => this.store.removeSource(name),
    test: (name: string) => this.testSource(name),
  };

  readonly destinations = {
    add: (input: { name: string; kind: string; url: string }) => this.addDestination(input),
    list: async () => (await this.store.listDestinations()).map(redactDestination),
    test: (name: string) => this.testDestination(name),
    remove: (name: string) => this.store.removeDestination(name),
  };

  readonly runs = {
    list: (filter?: { source?: string; limit?: number }) => this.store.listRuns(filter),
    get: (id: string) => this.store.getRun(id),
    logs: (id: string, options?: { afterId?: number; limit?: number }) => this.store.getLogs(id, options),
    /** Stops a run of this process at its next chunk boundary; the checkpoint is kept. */
    cancel: (id: string) => {
      const controller = this.active.get(id);
      if (!controller) return false;
      controller.abort(new Error("cancelled"));
      return true;
    },
  };

  private readonly active = new Map<string, AbortController>();
  private readonly engine = new SyncEngine();
  /** PostgreSQL mode: the rate limits every process shares (cluster/sharedRateLimits.ts). */
  private sharedLimits?: { close(): Promise<void> };

  private constructor(
    readonly home: string,
    readonly store: MetadataStore,
    /** Where a sync without a named destination writes: the database holding the metadata. */
    readonly defaultDestination: Destination,
    /** The embedded SQLite destination (same file as the metadata); null when DATABASE_URL is PostgreSQL. */
    readonly embedded: SqliteDestination | null,
  ) {}

  /**
   * Opens $MAKO_HOME/mako.db, or with DATABASE_URL (or `databaseUrl`) = postgres://… keeps the
   * metadata in that database's schema `mako` and syncs there by default (MAKO_HOME then holds
   * only the secret key file).
   */
  static async open(options: { home?: string; databaseUrl?: string } = {}): Promise<Mako> {
    const home = options.home ? resolve(options.home) : defaultHome();
    mkdirSync(home, { recursive: true });
    // A DATABASE_URL of another kind in the environment may belong to another program: not ours.
    const fromEnv = process.env.DATABASE_URL;
    const databaseUrl = options.databaseUrl ?? (fromEnv && isPostgresUrl(fromEnv) ? fromEnv : undefined);
    if (databaseUrl) return Mako.openPostgres(home, databaseUrl);
    const path = join(home, "mako.db");
    let db: Database.Database;
    try {
      db = new Database(path, { timeout: busyTimeoutMs() });
      db.pragma("journal_mode = WAL");
      const embedded = new SqliteDestination(db);
      const store = new SqliteStore(db, SecretBox.forHome(home));
      return new Mako(home, store, embedded, embedded);
    } catch (err) {
      throw new Error(`cannot open ${path}: ${err.message}`);
    }
  }

  private static async openPostgres(home: string, url: string): Promise<Mako> {
    if (!isPostgresUrl(url)) {
      throw new ValidationError(`databaseUrl must start with postgres:// or postgresql:// (got "${url.split(":")[0]}:…")`, "databaseUrl");
    }
    const store = await PostgresStore.open(url, SecretBox.forHome(home));
    let mako: Mako;
    try {
      mako = new Mako(home, store, await PostgresDestination.open(url), null);
    } catch (err) {
      await store.close();
      throw new Error(`cannot use PostgreSQL at ${serverOf(url)} (DATABASE_URL) as the default destination: ${err.message}`);
    }
    // Every process on this database shares each source's rate limit. Loaded here only, so
    // SQLite mode never loads it.
    const { useSharedRateLimits } = await import("./cluster/sharedRateLimits");
    mako.sharedLimits = useSharedRateLimits(url);
    return mako;
  }

  /** Instantiates a registered connector for a data source. */
  createConnector(id: string, dataSource: { name: string; config: unknown; settings?: DataSourceSettings }): BaseConnector {
    const Connector = this.connectorClass(id);
    return new Connector({ name: dataSource.name, connector: id, config: dataSource.config as Record<string, unknown>, settings: dataSource.settings ?? {} });
  }

  async sync(name: string, options: SyncOptions = {}): Promise<StartedSync> {
    const source = await this.store.getSource(name);
    const connector = this.createConnector(source.connector, source);
    const known = connector.describeEntities().map((e) => e.name);
    const unknown = (options.entities ?? []).filter((e) => !known.includes(e));
    if (unknown.length) {
      throw new UnknownEntityError(`unknown entity ${unknown.map((e) => `"${e}"`).join(", ")} for source "${name}"; it has: ${known.join(", ")}`);
    }
    const destinationName = options.destination ?? source.destination ?? null;
    const destination = await this.openDestination(destinationName);
    if (!options.fullRefresh) {
      // A malformed checkpoint fails the sync before anything runs, not one entity among others.
      try {
        for (const entity of options.entities?.length ? options.entities : known) await destination.loadCheckpoint({ namespace: name, entity });
      } catch (err) {
        if (destination !== this.defaultDestination) await destination.close();
        throw err;
      }
    }
    const runId = `run_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
    try {
      await this.store.startRun({ id: runId, source: name, fullRefresh: options.fullRefresh ?? false, destination: destinationName });
    } catch (err) {
      if (destination !== this.defaultDestination) await destination.close();
      throw err;
    }
    const controller = new AbortController();
    options.signal?.addEventListener("abort", () => controller.abort(options.signal!.reason), { once: true });
    this.active.set(runId, controller);
    const recorder = new RunRecorder(this.store, runId, options.entities ?? known);

    const done = (async (): Promise<RunResult> => {
      try {
        const result = await this.engine.run({
          runId,
          namespace: name,
          connector,
          destination,
          settings: source.settings,
          entities: options.entities,
          fullRefresh: options.fullRefresh,
          signal: controller.signal,
          hooks: options.hooks,
          onEvent: (event) => {
            recorder.record(event);
            options.onEvent?.(event);
          },
        });
        await recorder.finish(result);
        return result;
      } catch (err) {
        await recorder.fail(err.message);
        throw err;
      } finally {
        this.active.delete(runId);
        if (destination !== this.defaultDestination) await destination.close();
      }
    })();
    return { runId, done };
  }

  async close(): Promise<void> {
    for (const c of this.active.values()) c.abort(new Error("Mako is closing"));
    await this.store.close();
    if (this.defaultDestination !== this.embedded) await this.defaultDestination.close();
    await this.sharedLimits?.close();
  }

  /** The destination a sync writes to: a named one, or the default (the database holding the metadata). */
  async openDestination(name: string | null): Promise<Destination> {
    if (name === null) return this.defaultDestination;
    const record = await this.store.getDestination(name);
    return openDestinationFor(record, this.home);
  }

  // --- internals ----------------------------------------------------------------------

  private connectorClass(id: string): SourceConnector {
    const Connector = connectorRegistry[id];
    if (!Connector) {
      throw new ValidationError(`unknown connector "${id}"; available: ${Object.keys(connectorRegistry).join(", ")}`, "connector");
    }
    return Connector;
  }

  /** An instance for reading metadata only: constructors must not need a valid config. */
  private describe(id: string): BaseConnector {
    const Connector = this.connectorClass(id);
    const dataSource = { name: id, connector: id, config: {}, settings: {} };
    try {
      return new Connector(dataSource);
    } catch {
      return Object.assign(Object.create(Connector.prototype), { dataSource }) as BaseConnector;
    }
  }

  private connectorInfo(id: string): ConnectorInfo {
    const c = this.describe(id);
    const meta = c.getMetadata();
    let configSchema: unknown;
    try {
      configSchema = z.toJSONSchema(c.getConfigSchema(), { unrepresentable: "any", io: "input" });
    } catch {
      configSchema = { type: "object" };
    }
    return {
      id,
      name: meta.name,
      version: meta.version,
      description: meta.description,
      author: meta.author,
      entities: c.describeEntities(),
      configSchema,
      resumable: c.supportsResumableFetching(),
    };
  }

  private validated(connectorId: string, config: unknown): Record<string, unknown> {
    const schema = this.describe(connectorId).getConfigSchema();
    const result = validateConfig(schema, config ?? {});
    if (!result.ok) {
      throw new ValidationError(`invalid config for connector "${connectorId}": ${result.errors.join("; ")}`, result.field);
    }
    return result.config as Record<string, unknown>;
  }

  private async addSource(input: { name: string; connector: string; config: unknown; settings?: DataSourceSettings; destination?: string | null }) {
    if (typeof input.name !== "string" || !SOURCE_NAME.test(input.name)) {
      throw new ValidationError(
        `invalid source name "${input.name}": use lowercase letters, digits and _ (starting with a letter, at most 63)`,
        "name",
      );
    }
    if (this.reservesName(input.name)) {
      throw new ValidationError(`invalid source name "${input.name}": the schema "${METADATA_SCHEMA}" holds Mako's metadata; pick another name`, "name");
    }
    const config = this.validated(input.connector, input.config);
    const settings = validSettings(input.settings);
    if (input.destination) await this.store.getDestination(input.destination);
    const stored = await this.store.addSource({
      name: input.name,
      connector: input.connector,
      config,
      settings,
      destination: input.destination ?? null,
    });
    return this.redacted(stored);
  }

  private async updateSource(name: string, patch: { config?: unknown; settings?: DataSourceSettings; destination?: string | null }) {
    const current = await this.store.getSource(name);
    let config = current.config;
    if (patch.config !== undefined) {
      // Redacted values sent back unchanged keep their stored secret.
      config = this.validated(current.connector, restoreSecrets(patch.config, current.config));
    }
    if (patch.destination) await this.store.getDestination(patch.destination);
    const changes: Partial<Pick<SourceRecord, "config" | "settings" | "destination">> = { config };
    if (patch.settings !== undefined) changes.settings = validSettings(patch.settings);
    if (patch.destination !== undefined) changes.destination = patch.destination;
    return this.redacted(await this.store.updateSource(name, changes));
  }

  private async testSource(name: string) {
    const source = await this.store.getSource(name);
    const connector = this.createConnector(source.connector, source);
    try {
      return await connector.testConnection();
    } catch (err) {
      return { success: false, message: err.message };
    }
  }

  private async addDestination(input: { name: string; kind: string; url: string }) {
    if (!SOURCE_NAME.test(input.name)) throw new ValidationError(`invalid destination name "${input.name}"`, "name");
    if (!isDestinationKind(input.kind)) {
      throw new ValidationError(`invalid destination type "${input.kind}": use one of ${destinationKinds.join(", ")}`, "kind");
    }
    if (!input.url) throw new ValidationError("a destination needs --url (a connection URL or a file path)", "url");
    const record = await this.store.addDestination(input);
    return redactDestination(record);
  }

  private async testDestination(name: string) {
    const destination = await this.openDestination(name);
    try {
      await destination.test();
      return { success: true, message: `connected to ${destination.kind} destination "${name}"` };
    } catch (err) {
      return { success: false, message: err.message };
    } finally {
      await destination.close();
    }
  }

  /** In PostgreSQL a source's tables go in the schema of its name: Mako's own schema is taken. */
  private reservesName(name: string): boolean {
    return this.store instanceof PostgresStore && name === METADATA_SCHEMA;
  }

  private redacted(source: SourceRecord): SourceRecord {
    const schema = this.describe(source.connector).getConfigSchema();
    return { ...source, config: redactConfig(source.config, secretFieldNames(schema)) as Record<string, unknown> };
  }
}

/** Settings checked against `settingsSchema`; errors name the field (`settings.burst: …`). */
function validSettings(input: unknown): DataSourceSettings {
  const result = validateConfig(settingsSchema, input ?? {});
  if (!result.ok) {
    const unknown = result.errors.some((e) => e.startsWith("unknown setting"));
    const hint = unknown ? ` (settings are: ${Object.keys(settingsSchema.shape).join(", ")})` : "";
    throw new ValidationError(`invalid settings: ${result.errors.join("; ")}${hint}`, result.field ? `settings.${result.field}` : "settings");
  }
  return result.config as DataSourceSettings;
}

function redactDestination(d: DestinationRecord): DestinationRecord {
  return { ...d, url: d.url.replace(/\/\/([^:/@]+):([^@]+)@/, `//$1:${REDACTED}@`) };
}

/** Puts stored secrets back where a patch carries the redaction placeholder. */
function restoreSecrets(patch: unknown, stored: unknown): unknown {
  if (patch === REDACTED) return stored;
  if (Array.isArray(patch)) return patch.map((v, i) => restoreSecrets(v, Array.isArray(stored) ? stored[i] : undefined));
  if (patch && typeof patch === "object") {
    const s = (stored && typeof stored === "object" ? stored : {}) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(patch).map(([k, v]) => [k, restoreSecrets(v, s[k])]));
  }
  return patch;
}
