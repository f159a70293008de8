import Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import type { BaseConnector } from "./connectors/base/BaseConnector";
import type { DataSourceSettings, EntityDescriptor } from "./connectors/base/types";
import { settingsSchema } from "./connectors/base/settingsSchema";
import { validateConfig } from "./connectors/base/validateConfig";
import { connectorRegistry, type SourceConnector } from "./connectors/registry";
import type { Destination } from "./destinations/Destination";
import { SqliteDestination } from "./destinations/sqlite/SqliteDestination";
import { ConflictError, NotFoundError, type DestinationRecord, type MetadataStore, type RunTrigger, type SourceRecord } from "./store/MetadataStore";
import { Schedules } from "./schedules/Schedules";
import { SecretBox } from "./store/SecretBox";
import { storeMessages } from "./store/storeRows";
import { SqliteStore } from "./store/SqliteStore";
import { METADATA_SCHEMA, isPostgresUrl } from "./store/postgresUrl";
import { REDACTED, redactConfig, redactUrl, secretPaths } from "./store/redact";
import { applyConfigEdit, applyDestinationUrlEdit, SecretsMustBeReenteredError } from "./store/secretBinding";
import { secretValues } from "./connectors/base/configMarks";
import { MAX_CONFIG_DEPTH, deeperThan, pathPastDepth } from "./connectors/base/nesting";
import { SecretRedactor } from "./connectors/base/http/SecretRedactor";
import { type ExistingData, ExistingDataError, type RemovedData, type Target, checkLeftovers, dropEverywhere } from "./sourceData";
import { RunRecorder } from "./sync/RunRecorder";
import { SyncEngine, UnknownEntityError } from "./sync/SyncEngine";
import { EntityWriters } from "./webhooks/EntityWriters";
import { InboxFeed } from "./webhooks/InboxFeed";
import type { SyncHooks } from "./sync/EntitySync";
import type { RunResult, SyncEvent } from "./sync/events";
import { scrubEvent, scrubResult } from "./sync/scrub";

/** Bad input from a user: the message names the field; `field` says which one. */
export class ValidationError extends Error {
  readonly retryable = false;
  constructor(message: string, readonly field?: string) {
    super(message);
  }
}

/** A source or destination whose connection test failed when it was added: nothing was stored. */
export class ConnectionTestError extends ValidationError {
  constructor(message: string) {
    super(message, "test");
  }
}

export { ConflictError, NotFoundError, SecretsMustBeReenteredError };

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
  /** Recorded with the run: "schedule" when a schedule fired it; "manual" by default. */
  trigger?: RunTrigger;
}

export interface NewSourceInput {
  name: string;
  connector: string;
  config: unknown;
  settings?: DataSourceSettings;
  destination?: string | null;
  /** The entities a sync reads when it is not told which; null or empty = all. */
  entities?: string[] | null;
  /** Test the connection first and store nothing when it fails. */
  test?: boolean;
  /** Data an earlier source of this name left where this one writes: continue from it, or drop it first (refused otherwise). */
  data?: ExistingData;
}

/** Fields left out stay as they are; `entities: null` (or []) goes back to all entities. */
export interface SourcePatch {
  config?: unknown;
  settings?: DataSourceSettings;
  destination?: string | null;
  entities?: string[] | null;
}

export interface StartedSync {
  runId: string;
  done: Promise<RunResult>;
}

const SOURCE_NAME = /^[a-z][a-z0-9_]{0,62}$/;
/** A connection test on add retries a failed request once: it is a probe, not a sync. */
const TEST_MAX_RETRIES = 1;

/** How long a write waits for another process's lock on mako.db (MAKO_BUSY_TIMEOUT_MS, default 5 s). */
export const busyTimeoutMs = (env: NodeJS.ProcessEnv = process.env) => {
  const ms = Number(env.MAKO_BUSY_TIMEOUT_MS);
  return Number.isFinite(ms) && ms >= 0 && env.MAKO_BUSY_TIMEOUT_MS !== "" ? ms : 5000;
};

/** A new run's id: sortable by time, unique across processes. */
export const newRunId = () => `run_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;

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
    /** The config as the connector will read it (defaults applied); unknown or bad fields are a ValidationError. */
    validateConfig: (id: string, config: unknown): Record<string, unknown> => this.validated(id, config),
  };

  readonly sources = {
    /** Stores a source; with `test`, only once its connection test passes (ConnectionTestError otherwise). */
    add: (input: NewSourceInput) => this.addSource(input),
    list: async () => (await this.store.listSources()).map((s) => this.redacted(s)),
    get: async (name: string) => this.redacted(await this.store.getSource(name)),
    /** The stored source with secrets in clear: for running it, never for showing it. */
    unredacted: (name: string) => this.store.getSource(name),
    update: (name: string, patch: SourcePatch) => this.updateSource(name, patch),
    /** Refused while it syncs; `drop` deletes its tables and checkpoints wherever it wrote. Says where data was dropped. */
    remove: (name: string, options: { data: RemovedData }) => this.removeSource(name, options.data),
    test: (name: string) => this.testSource(name),
  };

  readonly destinations = {
    /** Stores a destination; with `test`, only once it accepts a connection (ConnectionTestError otherwise). */
    add: (input: { name: string; kind: string; url: string; test?: boolean }) => this.addDestination(input),
    list: async () => (await this.store.listDestinations()).map(redactDestination),
    /** A new connection URL; the stored password is kept only while the server stays the same. */
    update: (name: string, input: { url: string }) => this.updateDestination(name, input),
    test: (name: string) => this.testDestination(name),
    remove: (name: string) => this.store.removeDestination(name),
  };

  readonly runs = {
    list: (filter?: { source?: string; limit?: number }) => this.store.listRuns(filter),
    get: (id: string) => this.store.getRun(id),
    logs: (id: string, options?: { afterId?: number; limit?: number }) => this.store.getLogs(id, options),
    /**
     * Stops a run at its next chunk boundary, the checkpoint kept: at once when this process
     * runs it, else through the store (its process reads the flag within a second). False when
     * the run is not running.
     */
    cancel: async (id: string): Promise<boolean> => {
      const controller = this.active.get(id);
      if (controller) {
        controller.abort(new Error("cancelled"));
        return true;
      }
      return this.store.requestCancel(id);
    },
  };

  /** Sources' schedules (`mako schedule`, the source page); `mako serve` fires them. */
  get schedules(): Schedules {
    return (this.scheduleFacade ??= new Schedules(this.store.schedules));
  }

  private scheduleFacade?: Schedules;
  private readonly active = new Map<string, AbortController>();
  private readonly engine = new SyncEngine();
  /** Entities a sync of this process is writing: their webhook events are that sync's to apply. */
  readonly writers = new EntityWriters();
  /** PostgreSQL mode: the rate limits every process shares (cluster/sharedRateLimits.ts). */
  private sharedLimits?: { close(): Promise<void> };

  private constructor(
    readonly home: string,
    readonly store: MetadataStore,
    /** Where a sync without a named destination writes: the database holding the metadata. */
    readonly defaultDestination: Destination,
    /** The embedded SQLite destination (same file as the metadata); null when DATABASE_URL is PostgreSQL. */
    readonly embedded: SqliteDestination | null,
    private readonly secretBox: SecretBox,
  ) {}

  /** A secret derived from Mako's key for one purpose (stable wherever the same key is used). */
  derivedSecret(purpose: string): string {
    return this.secretBox.derive(purpose);
  }

  /**
   * Opens $MAKO_HOME/mako.db, or with DATABASE_URL (or `databaseUrl`) = postgres://… keeps the
   * metadata in that database's schema `mako` and syncs there by default (MAKO_HOME then holds
   * only the secret key file).
   */
  static async open(options: { home?: string; databaseUrl?: string } = {}): Promise<Mako> {
    const home = options.home ? resolve(options.home) : defaultHome();
    mkdirSync(home, { recursive: true, mode: 0o700 });
    // A DATABASE_URL of another kind in the environment may belong to another program: not ours.
    const fromEnv = process.env.DATABASE_URL;
    const databaseUrl = options.databaseUrl ?? (fromEnv && isPostgresUrl(fromEnv) ? fromEnv : undefined);
    if (databaseUrl) return Mako.openPostgres(home, databaseUrl);
    const path = join(home, "mako.db");
    let db: Database.Database;
    try {
      ownerOnly(path);
      db = new Database(path, { timeout: busyTimeoutMs() });
      db.pragma("journal_mode = WAL");
      const embedded = new SqliteDestination(db);
      const secrets = SecretBox.forHome(home);
      const store = new SqliteStore(db, secrets);
      return new Mako(home, store, embedded, embedded, secrets);
    } catch (err) {
      throw new Error(`cannot open ${path}: ${err.message}`);
    }
  }

  private static async openPostgres(home: string, url: string): Promise<Mako> {
    if (!isPostgresUrl(url)) {
      throw new ValidationError(`databaseUrl must start with postgres:// or postgresql:// (got "${url.split(":")[0]}:…")`, "databaseUrl");
    }
    // Loaded here, not at the top: commands on the embedded file never load the pg driver.
    const [{ PostgresStore, serverOf }, { PostgresDestination }] = await Promise.all([
      import("./store/PostgresStore"),
      import("./destinations/postgres/PostgresDestination"),
    ]);
    const secrets = SecretBox.forHome(home);
    const store = await PostgresStore.open(url, secrets);
    let mako: Mako;
    try {
      mako = new Mako(home, store, await PostgresDestination.open(url), null, secrets);
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
    // Whatever a connector or a source API lets slip, the source's secrets never reach the
    // run's record, its logs or a listener; and the engine refuses to store them in a checkpoint.
    const secrets = secretValues(this.describe(source.connector).getConfigSchema(), source.config);
    const redactor = new SecretRedactor(secrets);
    const known = connector.describeEntities().map((e) => e.name);
    options = { ...options, entities: this.entitiesToSync(source, options.entities) };
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
    const runId = newRunId();
    try {
      await this.store.startRun({ id: runId, source: name, fullRefresh: options.fullRefresh ?? false, destination: destinationName, entities: options.entities ?? known, trigger: options.trigger });
    } catch (err) {
      if (destination !== this.defaultDestination) await destination.close();
      throw err;
    }
    const controller = new AbortController();
    options.signal?.addEventListener("abort", () => controller.abort(options.signal!.reason), { once: true });
    this.active.set(runId, controller);
    const recorder = new RunRecorder(this.store, runId, options.entities ?? known, () => controller.abort(new Error("cancelled")));

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
          changes: InboxFeed.forSource(this.store.inbox, name, connector, this.writers),
          secrets,
          onEvent: (event) => {
            const clean = scrubEvent(event, redactor);
            recorder.record(clean);
            options.onEvent?.(clean);
          },
        });
        const clean = scrubResult(result, redactor);
        await recorder.finish(clean);
        return clean;
      } catch (err) {
        if (err instanceof Error) err.message = redactor.text(err.message);
        await recorder.fail(err.message);
        throw err;
      } finally {
        this.active.delete(runId);
        if (destination !== this.defaultDestination) await destination.close();
      }
    })();
    return { runId, done };
  }

  /**
   * The entities a sync of the source reads: those asked for, else the selection saved with the
   * source, else all of its connector's. An unknown one is an UnknownEntityError naming the real ones.
   */
  entitiesToSync(source: SourceRecord, asked?: string[]): string[] {
    const known = this.createConnector(source.connector, source).describeEntities().map((e) => e.name);
    const chosen = asked?.length ? asked : (source.entities ?? undefined);
    const unknown = (chosen ?? []).filter((e) => !known.includes(e));
    if (unknown.length) {
      const saved = chosen === source.entities ? ` (saved with the source: change it with mako sources update ${source.name} --entity … or --all-entities)` : "";
      throw new UnknownEntityError(`unknown entity ${unknown.map((e) => `"${e}"`).join(", ")} for source "${source.name}"; it has: ${known.join(", ")}${saved}`);
    }
    return chosen ?? known;
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
    const { openDestinationFor } = await import("./destinations/open");
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
    // Before the schema, and before anything is stored: a config nested past the limit is
    // refused whole, so no later walk over it (redaction, listing) meets an unbounded depth.
    if (deeperThan(config, MAX_CONFIG_DEPTH)) {
      const at = pathPastDepth(config, MAX_CONFIG_DEPTH);
      throw new ValidationError(`invalid config for connector "${connectorId}": ${at}: nests deeper than ${MAX_CONFIG_DEPTH} levels`, at);
    }
    const schema = this.describe(connectorId).getConfigSchema();
    const result = validateConfig(schema, config ?? {});
    if (!result.ok) {
      throw new ValidationError(`invalid config for connector "${connectorId}": ${result.errors.join("; ")}`, result.field);
    }
    return result.config as Record<string, unknown>;
  }

  /**
   * A selection of entities checked against the connector's (with this config: a REST or
   * GraphQL source declares its entities there); empty means all, stored as null.
   */
  private validEntities(connectorId: string, config: Record<string, unknown>, entities: string[] | null | undefined): string[] | null {
    if (!entities?.length) return null;
    const known = this.createConnector(connectorId, { name: connectorId, config }).describeEntities().map((e) => e.name);
    const unknown = entities.filter((e) => !known.includes(e));
    if (unknown.length) {
      throw new ValidationError(`unknown entity ${unknown.map((e) => `"${e}"`).join(", ")} for connector "${connectorId}"; it has: ${known.join(", ")}`, "entities");
    }
    return [...new Set(entities)];
  }

  private async addSource(input: NewSourceInput) {
    if (typeof input.name !== "string" || !SOURCE_NAME.test(input.name)) {
      throw new ValidationError(
        `invalid source name "${input.name}": use lowercase letters, digits and _ (starting with a letter, at most 63)`,
        "name",
      );
    }
    if (input.name.includes("__") || input.name.endsWith("_")) {
      // Tables are named SOURCE__ENTITY (SQLite, MySQL): the first "__" must be where the source's name ends.
      throw new ValidationError(`invalid source name "${input.name}": it may not contain __ nor end with _ (tables are named ${input.name}__ENTITY)`, "name");
    }
    if (this.reservesName(input.name)) {
      throw new ValidationError(`invalid source name "${input.name}": the schema "${METADATA_SCHEMA}" holds Mako's metadata; pick another name`, "name");
    }
    const config = this.validated(input.connector, input.config);
    const settings = validSettings(input.settings);
    const entities = this.validEntities(input.connector, config, input.entities);
    if (input.destination) await this.store.getDestination(input.destination);
    await this.refuseTaken(input.name);
    const dropLeftovers = await checkLeftovers(input.name, this.target(input.destination ?? null), input.data).catch((err) => {
      throw err instanceof ExistingDataError ? err : new ValidationError(err.message, "destination");
    });
    if (input.test) await this.probeSource(input.connector, { name: input.name, config, settings });
    await dropLeftovers();
    const stored = await this.store.addSource({
      name: input.name,
      connector: input.connector,
      config,
      settings,
      destination: input.destination ?? null,
      entities,
    });
    return this.redacted(stored);
  }

  private async removeSource(name: string, data: RemovedData): Promise<{ droppedFrom: string[] }> {
    if (data !== "drop" && data !== "keep") {
      throw new ValidationError(`say what becomes of the synced data of "${name}": drop it (--drop-data) or keep it (--keep-data)`, "data");
    }
    // Known by name only: a source whose config cannot be decrypted (another key) can still go.
    if (!(await this.store.listSourceNames()).includes(name)) throw new NotFoundError(storeMessages.noSource(name));
    // One check for the CLI and the API; the store checks again as it deletes.
    const [latest] = await this.store.listRuns({ source: name, limit: 1 });
    if (latest?.status === "running") throw new ConflictError(`source "${name}" is syncing (run ${latest.id}); cancel it first (npx mako runs cancel ${name}) or let it finish`);
    if (data === "keep") {
      await this.store.removeSource(name);
      return { droppedFrom: [] };
    }
    const source = await this.store.getSource(name);
    const written = new Set([source.destination, ...(await this.store.runDestinations(name))]);
    const stored = new Set((await this.store.listDestinations()).map((d) => d.name));
    const targets = [...written].filter((d) => d === null || stored.has(d)).map((d) => this.target(d));
    return { droppedFrom: await dropEverywhere(name, targets, () => this.store.removeSource(name)) };
  }

  /** A destination by name (null: the default), opened for one use. */
  private target(name: string | null): Target {
    return { name, open: () => this.openDestination(name), close: async (d) => (d === this.defaultDestination ? undefined : d.close()) };
  }

  private async updateSource(name: string, patch: SourcePatch) {
    const current = await this.store.getSource(name);
    let config = current.config;
    if (patch.config !== undefined) {
      if (!patch.config || typeof patch.config !== "object" || Array.isArray(patch.config)) {
        throw new ValidationError(`invalid config for connector "${current.connector}": must be an object`, "config");
      }
      // Secrets left out (or sent back masked) keep their stored value, unless the edit
      // changes where requests go: then they must be entered again.
      const schema = this.describe(current.connector).getConfigSchema();
      config = applyConfigEdit(schema, current.config, patch.config as Record<string, unknown>, (c) => this.validated(current.connector, c));
    }
    if (patch.destination) await this.store.getDestination(patch.destination);
    const changes: Partial<Pick<SourceRecord, "config" | "settings" | "destination" | "entities">> = { config };
    if (patch.settings !== undefined) changes.settings = validSettings(patch.settings);
    if (patch.destination !== undefined) changes.destination = patch.destination;
    // A new config (a REST source's entity list) must still have the saved entities.
    if (patch.entities !== undefined || patch.config !== undefined) {
      changes.entities = this.validEntities(current.connector, config, patch.entities === undefined ? current.entities : patch.entities);
    }
    return this.redacted(await this.store.updateSource(name, changes));
  }

  private async updateDestination(name: string, input: { url: string }) {
    if (!input.url) throw new ValidationError("a destination needs --url (a connection URL or a file path)", "url");
    const current = await this.store.getDestination(name);
    const url = applyDestinationUrlEdit(name, current.url, input.url);
    return redactDestination(await this.store.updateDestination(name, { url }));
  }

  /** A name already taken is said before a connection test that may take seconds. */
  private async refuseTaken(name: string): Promise<void> {
    try {
      await this.store.getSource(name);
    } catch (err) {
      if (err instanceof NotFoundError) return;
      throw err;
    }
    throw new ConflictError(storeMessages.sourceExists(name));
  }

  private async probeSource(connectorId: string, source: { name: string; config: Record<string, unknown>; settings: DataSourceSettings }) {
    const retries = Math.min(source.settings.maxRetries ?? TEST_MAX_RETRIES, TEST_MAX_RETRIES);
    const connector = this.createConnector(connectorId, { ...source, settings: { ...source.settings, maxRetries: retries } });
    let result: { success: boolean; message: string };
    try {
      result = await connector.testConnection();
    } catch (err) {
      result = { success: false, message: err.message };
    }
    if (!result.success) throw new ConnectionTestError(`connection test of source "${source.name}" failed: ${result.message}`);
  }

  private async testSource(name: string) {
    const source = await this.store.getSource(name);
    const connector = this.createConnector(source.connector, source);
    // A connector's own message (not the HTTP client's) could quote what the API echoed back.
    const redactor = new SecretRedactor(secretValues(this.describe(source.connector).getConfigSchema(), source.config));
    try {
      const result = await connector.testConnection();
      return { ...result, message: redactor.text(result.message) };
    } catch (err) {
      return { success: false, message: redactor.text(err.message) };
    }
  }

  private async addDestination(input: { name: string; kind: string; url: string; test?: boolean }) {
    if (!SOURCE_NAME.test(input.name)) throw new ValidationError(`invalid destination name "${input.name}"`, "name");
    const [{ isDestinationKind }, { destinationKinds }] = await Promise.all([import("./destinations/open"), import("./destinations/factory")]);
    if (!isDestinationKind(input.kind)) {
      throw new ValidationError(`invalid destination type "${input.kind}": use one of ${destinationKinds.join(", ")}`, "kind");
    }
    if (!input.url) throw new ValidationError("a destination needs --url (a connection URL or a file path)", "url");
    if (input.test) await this.probeDestination({ name: input.name, kind: input.kind, url: input.url });
    const record = await this.store.addDestination({ name: input.name, kind: input.kind, url: input.url });
    return redactDestination(record);
  }

  private async probeDestination(record: { name: string; kind: string; url: string }) {
    try {
      await this.store.getDestination(record.name);
      throw new ConflictError(storeMessages.destinationExists(record.name));
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    const { openDestinationFor } = await import("./destinations/open");
    let destination: Destination | undefined;
    try {
      destination = await openDestinationFor(record, this.home);
      await destination.test();
    } catch (err) {
      throw new ConnectionTestError(`connection test of destination "${record.name}" failed: ${redactUrls(err.message)}`);
    } finally {
      await destination?.close();
    }
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
    return this.embedded === null && name === METADATA_SCHEMA;
  }

  private redacted(source: SourceRecord): SourceRecord {
    const schema = this.describe(source.connector).getConfigSchema();
    return { ...source, config: redactConfig(source.config, secretPaths(schema, source.config)) };
  }
}

/** Settings checked against `settingsSchema`; errors name the field (`settings.burst: …`) or list the real ones. */
function validSettings(input: unknown): DataSourceSettings {
  const result = validateConfig(settingsSchema, input ?? {}, "setting");
  if (!result.ok) {
    throw new ValidationError(`invalid settings: ${result.errors.join("; ")}`, result.field ? `settings.${result.field}` : "settings");
  }
  return result.config as DataSourceSettings;
}

function redactDestination(d: DestinationRecord): DestinationRecord {
  return { ...d, url: redactUrl(d.url) };
}

/** Passwords in connection URLs quoted by an error message, replaced. */
function redactUrls(text: string): string {
  return text.replace(/\/\/([^:/@\s]+):([^@\s]+)@/g, `//$1:${REDACTED}@`);
}

/**
 * mako.db (and the -wal/-shm files SQLite creates with the same mode) readable by its owner
 * only: it holds the synced data and Mako's records.
 */
function ownerOnly(path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, "a", 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(file)) chmodSync(file, 0o600);
}
