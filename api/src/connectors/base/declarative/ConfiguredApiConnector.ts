import { z } from "zod";
import { BaseConnector, type RateLimitDefaults } from "../BaseConnector";
import type { HttpClient } from "../http";
import { RequestAuth, type AuthConfig } from "./auth";
import type { rateLimitSchema } from "./configIssues";
import { type WireValue, wireStrings } from "./wireValues";

/** What every described API's config has, whatever its protocol. */
export interface ApiConfig {
  auth: AuthConfig;
  headers?: Record<string, WireValue>;
  rate_limit?: z.infer<typeof rateLimitSchema>;
  entities: { name: string }[];
}

/**
 * The catalog builds every connector with an empty config to show it; the entities of a
 * described API are named by its config, so unconfigured it shows a single stand-in.
 */
const UNCONFIGURED_ENTITIES = ["records"];

/**
 * The rate of a described API whose config names none: 25 requests per second, 4 in flight.
 * Most APIs allow more, and the client slows down on its own on 429, Retry-After and quota
 * headers; `rate_limit` (the API's documented limit) or settings.requestsPerSecond change it.
 */
export const DESCRIBED_API_RATE_LIMIT: RateLimitDefaults = { requestsPerSecond: 25, burst: 25 };

/**
 * The part the REST and GraphQL connectors share: a config validated on first use, its
 * entities, its rate limit, and one HTTP client carrying its auth and headers.
 */
export abstract class ConfiguredApiConnector<Config extends ApiConfig> extends BaseConnector<HttpClient> {
  private auth?: RequestAuth;
  private http?: HttpClient;

  protected abstract readonly connectorId: string;

  /** The URL requests are relative to. */
  protected abstract apiUrl(config: Config): string;

  protected get config(): Config {
    return this.validConfig<Config>(this.connectorId);
  }

  /** The config when valid; metadata must not throw (`mako connectors` lists unconfigured connectors). */
  protected tryConfig(): Config | undefined {
    try {
      return this.config;
    } catch {
      return undefined;
    }
  }

  protected entityNames(): string[] {
    return this.tryConfig()?.entities.map((e) => e.name) ?? UNCONFIGURED_ENTITIES;
  }

  protected entity(name: string): Config["entities"][number] {
    const entity = this.config.entities.find((e) => e.name === name);
    if (!entity) {
      const known = this.config.entities.map((e) => e.name).join(", ");
      throw Object.assign(new Error(`${this.connectorId}: unknown entity "${name}" (this source has: ${known})`), { retryable: false });
    }
    return entity;
  }

  getDefaultRateLimit(): RateLimitDefaults {
    const limit = this.tryConfig()?.rate_limit;
    if (!limit) return DESCRIBED_API_RATE_LIMIT;
    return { requestsPerSecond: limit.requests_per_second, burst: limit.burst, maxConcurrentRequests: limit.max_concurrent };
  }

  protected authOf(): RequestAuth {
    this.auth ??= new RequestAuth(this.config.auth, () =>
      this.createHttpClient({ baseUrl: this.apiUrl(this.config), secrets: this.authOf().secrets() }),
    );
    return this.auth;
  }

  protected httpClient(): HttpClient {
    if (!this.http) {
      const auth = this.authOf();
      // Header values may be written as numbers or booleans in YAML, or as { secret: … }.
      const headers = wireStrings(this.config.headers);
      this.http = this.createHttpClient({
        baseUrl: this.apiUrl(this.config),
        headers: { Accept: "application/json", ...headers, ...auth.fixedHeaders() },
        query: auth.fixedQuery(),
        secrets: auth.secrets(),
      });
    }
    return this.http;
  }
}
