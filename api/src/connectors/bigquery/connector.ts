import { BaseConnector, type RateLimitDefaults } from "../base/BaseConnector";
import { HttpError } from "../base/http";
import type { ConnectionTestResult, EntityDeclaration, FetchState, ResumableFetchOptions } from "../base/types";
import { BigQueryApi, readGoogleError, readTokenError } from "./api";
import { KeyRejected, ServiceAccountAuth } from "./auth";
import { bigqueryConfigSchema, DEFAULT_API_URL, type BigQueryConfig, type BigQueryConfigInput, type BigQueryEntity } from "./config";
import { EntityReader } from "./reader";

const NAME = "bigquery";
/** Unconfigured (the catalog builds every connector with `{}`), the entities are the config's to name. */
const UNCONFIGURED_ENTITIES = ["records"];

/**
 * Google BigQuery: each entity is a table or a GoogleSQL query, read through the REST API with a
 * service account key. Whole tables are listed with tabledata.list; queries run as jobs whose
 * results are paged with getQueryResults, the job id, schema and page token checkpointed so a
 * resumed pass reads the same results. An entity with a cursor_field reads only rows at or past
 * the last sync's mark, bound as the @since query parameter.
 */
export class BigQueryConnector extends BaseConnector<BigQueryApi, BigQueryConfigInput> {
  private auth?: ServiceAccountAuth;

  private get config(): BigQueryConfig {
    return this.validConfig<BigQueryConfig>(NAME);
  }

  /** The config when valid; metadata must not throw (`mako connectors` lists unconfigured connectors). */
  private tryConfig(): BigQueryConfig | undefined {
    try {
      return this.config;
    } catch {
      return undefined;
    }
  }

  getMetadata() {
    return {
      name: "BigQuery",
      version: "1.0.0",
      description: "Google BigQuery tables and GoogleSQL query results, with a service account key. Incremental by a cursor column bound as @since; resumes on the same query job.",
      supportedEntities: this.tryConfig()?.entities.map((e) => e.name) ?? UNCONFIGURED_ENTITIES,
      author: "Mako",
    };
  }

  getConfigSchema() {
    return bigqueryConfigSchema;
  }

  getEntityDeclarations(): Record<string, EntityDeclaration> {
    const declarations: Record<string, EntityDeclaration> = {};
    for (const e of this.tryConfig()?.entities ?? []) {
      declarations[e.name] = {
        primaryKey: e.primary_key,
        cursorField: e.cursor_field,
        description: e.table !== undefined ? `table ${e.table}` : "query",
      };
    }
    return declarations;
  }

  /**
   * BigQuery allows 100 API requests per second per user and method
   * (https://cloud.google.com/bigquery/quotas#api_request_quotas).
   */
  getDefaultRateLimit(): RateLimitDefaults {
    return { requestsPerSecond: 100, burst: 100, maxConcurrentRequests: 4 };
  }

  supportsResumableFetching() {
    return true;
  }

  async testConnection(): Promise<ConnectionTestResult> {
    const problem = this.configProblem(NAME);
    if (problem) return { success: false, message: problem };
    try {
      // A query reading nothing proves the key, the scope and bigquery.jobs.create on the project.
      const project = this.projectId();
      await this.api().query(project, { query: "SELECT 1", maxResults: 1, location: this.config.location });
      return { success: true, message: `Connected to BigQuery project ${project} as ${this.credentials().account}` };
    } catch (err) {
      return { success: false, message: `${NAME}: ${describe(err)}` };
    }
  }

  async fetchEntityChunk(options: ResumableFetchOptions): Promise<FetchState> {
    const entity = this.entity(options.entity);
    try {
      const reader = new EntityReader({ api: this.api(), entity, projectId: this.projectId(), location: this.config.location }, options);
      return await reader.chunk();
    } catch (err) {
      if (options.signal?.aborted) throw err;
      const hints = err as { retryable?: boolean; retryAfterMs?: number };
      throw Object.assign(new Error(`${NAME}: entity "${entity.name}": ${describe(err)}`, { cause: err }), {
        retryable: err instanceof KeyRejected || (err instanceof HttpError && err.credentialsRejected) ? false : hints.retryable,
        retryAfterMs: hints.retryAfterMs,
      });
    }
  }

  private entity(name: string): BigQueryEntity {
    const entity = this.config.entities.find((e) => e.name === name);
    if (!entity) {
      const known = this.config.entities.map((e) => e.name).join(", ");
      throw Object.assign(new Error(`${NAME}: unknown entity "${name}" (this source has: ${known})`), { retryable: false });
    }
    return entity;
  }

  private projectId(): string {
    return this.config.project_id ?? this.config.service_account_json.project_id;
  }

  private credentials(): ServiceAccountAuth {
    const key = this.config.service_account_json;
    this.auth ??= new ServiceAccountAuth(key, () =>
      this.createHttpClient({ baseUrl: key.token_uri, secrets: [key.private_key], readError: readTokenError }),
    );
    return this.auth;
  }

  private api(): BigQueryApi {
    this.client ??= new BigQueryApi(
      this.createHttpClient({
        baseUrl: `${(this.config.base_url ?? DEFAULT_API_URL).replace(/\/+$/, "")}/`,
        secrets: [this.config.service_account_json.private_key],
        readError: readGoogleError,
      }),
      this.credentials(),
    );
    return this.client;
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
