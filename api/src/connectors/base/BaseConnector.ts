import { z } from "zod";
import { secretValues } from "./configMarks";
import { HttpClient } from "./http/HttpClient";
import type { HttpClientOptions } from "./http/types";
import { resolveClientSettings, resolveLimiterConfig, resolveRateLimitGroup } from "./http/httpSettings";
import { rateLimiterKey, sharedRateLimiter } from "./http/limiterRegistry";
import { validateConfig } from "./validateConfig";
import type { WebhookSupport } from "./webhooks";
import type {
  ConnectionTestResult,
  ConnectorMetadata,
  ConnectorObserver,
  DataSource,
  EntityDeclaration,
  EntityDescriptor,
  FetchOptions,
  FetchState,
  ResumableFetchOptions,
} from "./types";

export type {
  ConnectionTestResult,
  ConnectorMetadata,
  ConnectorObserver,
  DataRecord,
  DataSource,
  DataSourceSettings,
  EntityDeclaration,
  EntityDescriptor,
  FetchOptions,
  FetchProgress,
  FetchState,
  LogLevel,
  RequestMetric,
  ResumableFetchOptions,
  Since,
  WaitReason,
} from "./types";
export type { WebhookChange, WebhookEvent, WebhookSupport, WebhookVerification } from "./webhooks";

/** A vendor's documented request limit, the default for the shared HTTP client. */
export interface RateLimitDefaults {
  requestsPerSecond: number;
  burst?: number;
  maxConcurrentRequests?: number;
}

const silentObserver: ConnectorObserver = { log() {}, count() {} };

/**
 * The base of every connector. Subclasses give metadata, a connection test and either
 * `fetchEntityChunk` (resumable, preferred) or `fetchEntity` (one piece). `client` is the
 * connector's own API client; its type is the first generic parameter.
 */
export abstract class BaseConnector<Client = any, Config extends Record<string, any> = Record<string, any>> {
  protected client!: Client;
  protected observer: ConnectorObserver = silentObserver;
  private validated?: { config: unknown };

  constructor(public readonly dataSource: DataSource<Config>) {}

  abstract getMetadata(): ConnectorMetadata;

  abstract testConnection(): Promise<ConnectionTestResult>;

  /** Validates `dataSource.config`; mark secret fields with `secret()`. */
  getConfigSchema(): z.ZodType {
    return z.record(z.string(), z.unknown());
  }

  /**
   * `dataSource.config` checked against `getConfigSchema()`, parsed once on first use (so a
   * connector can be built with `{}` to read its metadata). A bad config throws one line
   * naming the connector and the field, and is not retried.
   */
  protected validConfig<T = Config>(connectorId = this.dataSource.connector ?? this.getMetadata().name.toLowerCase()): T {
    if (!this.validated) {
      const result = validateConfig(this.getConfigSchema(), this.dataSource.config ?? {});
      if (!result.ok) {
        throw Object.assign(new Error(`${connectorId}: invalid config: ${result.errors.join("; ")}`), { retryable: false });
      }
      this.validated = { config: result.config };
    }
    return this.validated.config as T;
  }

  /** Why the config is invalid (one line), or undefined when it is valid: for `testConnection`. */
  protected configProblem(connectorId?: string): string | undefined {
    try {
      this.validConfig(connectorId);
      return undefined;
    } catch (err) {
      return err.message;
    }
  }

  /** Throws, without retry, when asked for an entity this connector does not have. */
  protected assertKnownEntity(entity: string, connectorId = this.dataSource.connector ?? this.getMetadata().name.toLowerCase()): void {
    const known = this.getMetadata().supportedEntities;
    if (!known.includes(entity)) {
      throw Object.assign(new Error(`${connectorId}: unknown entity "${entity}" (this connector has: ${known.join(", ")})`), { retryable: false });
    }
  }

  /** Per-entity keys and cursors; entities not listed get primary key `id` and no cursor. */
  getEntityDeclarations(): Record<string, EntityDeclaration> {
    return {};
  }

  /** The vendor's documented rate limit, used unless the data source's settings say otherwise. */
  getDefaultRateLimit(): RateLimitDefaults {
    return { requestsPerSecond: 10, burst: 10 };
  }

  /**
   * The vendor's webhooks, for connectors that take them: how a delivery is verified and which
   * row an event changes. Undefined (the default) means the connector takes no webhooks.
   */
  webhookEvents(): WebhookSupport | undefined {
    return undefined;
  }

  supportsResumableFetching(): boolean {
    return false;
  }

  async fetchEntityChunk(_options: ResumableFetchOptions): Promise<FetchState> {
    throw new Error(`${this.getMetadata().name} cannot fetch in chunks: it only implements fetchEntity`);
  }

  async fetchEntity(_options: FetchOptions): Promise<void> {
    throw new Error(`${this.getMetadata().name} implements neither fetchEntity nor fetchEntityChunk`);
  }

  /** Every entity with its primary key, cursor field and incremental capability. */
  describeEntities(): EntityDescriptor[] {
    const declared = this.getEntityDeclarations();
    return this.getMetadata().supportedEntities.map((name) => {
      const d = declared[name] ?? {};
      const primaryKey = d.primaryKey === undefined ? ["id"] : Array.isArray(d.primaryKey) ? d.primaryKey : [d.primaryKey];
      return {
        name,
        primaryKey,
        cursorField: d.cursorField,
        incremental: d.incremental ?? d.cursorField !== undefined,
        description: d.description,
      };
    });
  }

  /** The engine attaches itself here to receive logs and request counters. */
  observe(observer: ConnectorObserver): void {
    this.observer = observer;
  }

  /**
   * An HTTP client paced by this data source's shared limiter (settings, else
   * `getDefaultRateLimit()`; one per `rateLimitGroup` when set), retrying with backoff,
   * reporting to the engine's observer. Every value the config schema marks secret is redacted
   * from its errors and log lines.
   */
  protected createHttpClient(options: HttpClientOptions): HttpClient {
    const settings = this.dataSource.settings ?? {};
    const connectorId = this.dataSource.connector ?? this.getMetadata().name;
    const limiter = sharedRateLimiter(
      rateLimiterKey(connectorId, this.dataSource.name, resolveRateLimitGroup(settings)),
      resolveLimiterConfig(settings, this.getDefaultRateLimit()),
    );
    const secrets = [...(options.secrets ?? []), ...secretValues(this.getConfigSchema(), this.dataSource.config)];
    return new HttpClient({ ...options, secrets }, {
      limiter,
      settings: resolveClientSettings(settings),
      // Read at each event: the engine calls observe() after the connector is constructed.
      observer: () => this.observer,
    });
  }

  protected sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}
