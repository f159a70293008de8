import { z } from "zod";
import { BaseConnector, type RateLimitDefaults } from "../base/BaseConnector";
import { HttpError, connectionFailureMessage, entityFailure, type HttpClient } from "../base/http";
import { requestTarget, secret } from "../base/secret";
import { markDeleted } from "../base/deletions";
import type { ConnectionTestResult, DataRecord, EntityDeclaration, FetchState, ResumableFetchOptions } from "../base/types";

const REGIONS = { us: "https://us.posthog.com", eu: "https://eu.posthog.com" } as const;

export const posthogConfigSchema = z.object({
  api_key: secret(z.string().min(1, "api_key is required").describe("Personal API key (phx_…) with read access to the project, query:read included")),
  project_id: z
    .union([z.number().int().positive(), z.string().regex(/^\d+$/, "project_id must be the numeric project id")])
    .transform(String)
    .describe("Project id (Project settings → Project ID)"),
  region: requestTarget(z.enum(["us", "eu"]).default("us").describe("PostHog Cloud region: us (us.posthog.com) or eu (eu.posthog.com)")),
  base_url: requestTarget(z.string().url("base_url must be an absolute URL").optional().describe("Self-hosted instance or proxy URL; overrides region")),
});
export type PostHogConfig = z.infer<typeof posthogConfigSchema>;

const NAME = "posthog";
const EVENT_COLUMNS = ["uuid", "event", "distinct_id", "timestamp", "properties", "person_id", "elements_chain", "created_at"];
/** PostHog answers up to 50,000 rows per query; pages this size keep memory flat. */
const MAX_EVENT_PAGE = 10_000;
const REST_ENTITIES = ["persons", "cohorts", "feature_flags", "insights"] as const;
/** The query API's execution mode that never answers from its cache. */
const QUERY_REFRESH = "force_blocking";
const ENTITIES = ["events", ...REST_ENTITIES];

/** When a soft-deleted object was deleted: its last change, else now (a time the API left unreadable). */
function deletedAt(r: DataRecord): Date {
  const at = new Date(String(r.last_modified_at ?? r.updated_at ?? ""));
  return Number.isNaN(at.getTime()) ? new Date() : at;
}

interface RestPage {
  next: string | null;
  results: DataRecord[];
}
interface QueryResult {
  columns: string[];
  results: unknown[][];
}

/**
 * PostHog: events through the query API (HogQL ordered by timestamp then uuid, resumed from
 * the last (timestamp, uuid) seen, incremental by timestamp, never a cached answer); persons,
 * cohorts, feature flags and insights through the project REST endpoints (`next`-URL pages),
 * read whole.
 */
export class PostHogConnector extends BaseConnector<HttpClient, PostHogConfig> {
  private get config(): PostHogConfig {
    return this.validConfig<PostHogConfig>(NAME);
  }

  private get api(): HttpClient {
    this.client ??= this.createHttpClient({
      baseUrl: this.baseUrl(),
      headers: { authorization: `Bearer ${this.config.api_key}` },
      secrets: [this.config.api_key],
    });
    return this.client;
  }

  getMetadata() {
    return {
      name: "PostHog",
      version: "1.0.0",
      description: "Product analytics: events (query API, incremental by timestamp), persons, cohorts, feature flags and insights. US, EU or self-hosted.",
      supportedEntities: ENTITIES,
      author: "Mako",
    };
  }

  getConfigSchema() {
    return posthogConfigSchema;
  }

  getEntityDeclarations(): Record<string, EntityDeclaration> {
    const whole = (what: string): EntityDeclaration => ({
      incremental: false,
      description: `${what}: the API has no updated-since filter, so every run reads them whole; deleted ones disappear from the API and a full refresh marks them _mako_deleted_at.`,
    });
    return {
      events: {
        primaryKey: "uuid",
        cursorField: "timestamp",
        description:
          "Events via HogQL, ordered by (timestamp, uuid), incremental by timestamp. Events are immutable; events that arrive late with an older timestamp are caught by settings.lookbackSeconds (e.g. 3600). Deleted events (person deletion with events) cannot be seen through the API.",
      },
      persons: whole("Persons"),
      cohorts: whole("Cohorts"),
      feature_flags: whole("Feature flags"),
      insights: whole("Insights"),
    };
  }

  /**
   * PostHog's query endpoint allows 2,400 requests an hour and 3 at once per project (CRUD
   * endpoints more): a sustained 0.6/s stays under the hourly cap, with a burst for small lists.
   */
  getDefaultRateLimit(): RateLimitDefaults {
    return { requestsPerSecond: 0.6, burst: 10, maxConcurrentRequests: 3 };
  }

  supportsResumableFetching() {
    return true;
  }

  async testConnection(): Promise<ConnectionTestResult> {
    // A config that does not parse is a failed test with its one-line reason, not a crash.
    const problem = this.configProblem(NAME);
    if (problem) return { success: false, message: problem };
    try {
      const project = await this.api.get<{ name?: string }>(this.projectPath(""));
      return { success: true, message: `Connected to PostHog project ${this.config.project_id}${project?.name ? ` (${project.name})` : ""}` };
    } catch (err) {
      return { success: false, message: this.connectionFailure(err) };
    }
  }

  async fetchEntityChunk(options: ResumableFetchOptions): Promise<FetchState> {
    this.assertKnownEntity(options.entity, NAME);
    try {
      return options.entity === "events" ? await this.fetchEvents(options) : await this.fetchRest(options);
    } catch (err) {
      throw this.entityFailure(options.entity, err);
    }
  }

  private async fetchEvents(options: ResumableFetchOptions): Promise<FetchState> {
    const limit = Math.min(MAX_EVENT_PAGE, Math.max(1, options.batchSize));
    let after = options.state?.metadata?.after as { timestamp: string; uuid: string } | undefined;
    let processed = options.state?.totalProcessed ?? 0;
    const since = options.since === undefined ? undefined : typeof options.since === "number" ? new Date(options.since * 1000).toISOString() : options.since;
    for (let calls = 0; calls < options.maxIterations; calls++) {
      const conditions: string[] = [];
      const values: Record<string, string> = {};
      if (since !== undefined) {
        conditions.push("timestamp >= toDateTime({since})");
        values.since = since;
      }
      if (after) {
        // Keyset on (timestamp, uuid): stable however many events share a timestamp.
        conditions.push("(timestamp > toDateTime({after_ts}) OR (timestamp = toDateTime({after_ts}) AND uuid > {after_uuid}))");
        values.after_ts = after.timestamp;
        values.after_uuid = after.uuid;
      }
      const where = conditions.length ? ` WHERE ${conditions.join(" AND ")}` : "";
      const query = `SELECT ${EVENT_COLUMNS.join(", ")} FROM events${where} ORDER BY timestamp ASC, uuid ASC LIMIT ${limit}`;
      // PostHog caches query answers and the default `blocking` mode returns a fresh-enough cached
      // one: a sync that repeats a recent query would miss what arrived since. force_blocking
      // always computes (posthog.com/docs/api/queries, "Caching and execution modes").
      const body = await this.api.post<unknown>(
        this.projectPath("query/"),
        { query: { kind: "HogQLQuery", query, values }, refresh: QUERY_REFRESH },
        { signal: options.signal },
      );
      const records = eventRecords(body);
      if (records.length > 0) {
        await options.onBatch(records);
        processed += records.length;
        options.onProgress({ processed });
        const last = records[records.length - 1];
        after = { timestamp: String(last.timestamp), uuid: String(last.uuid) };
      }
      if (records.length < limit) return { hasMore: false, totalProcessed: processed };
    }
    return { hasMore: true, cursor: after ? `${after.timestamp}|${after.uuid}` : null, totalProcessed: processed, metadata: { after } };
  }

  private async fetchRest(options: ResumableFetchOptions): Promise<FetchState> {
    const limit = Math.min(1000, Math.max(1, options.batchSize));
    let next: string | null = options.state?.cursor ?? `${this.projectPath(`${options.entity}/`)}?limit=${limit}`;
    let processed = options.state?.totalProcessed ?? 0;
    for (let calls = 0; calls < options.maxIterations && next; calls++) {
      const body = await this.api.get<unknown>(next, undefined, { signal: options.signal });
      const problem = restPageProblem(body);
      if (problem) throw permanent(`unexpected page from GET ${next.split("?")[0]}: ${problem}`);
      const page = body as RestPage;
      // Soft-deleted objects, where the API lists them, are deletions.
      const records = page.results.map((r) => (r.deleted === true ? markDeleted({ ...r }, deletedAt(r)) : r));
      if (records.length > 0) {
        await options.onBatch(records);
        processed += records.length;
        options.onProgress({ processed, total: typeof (body as { count?: unknown }).count === "number" ? (body as { count: number }).count : undefined });
      }
      next = page.next && page.results.length > 0 ? this.onOurHost(page.next) : null;
    }
    return { hasMore: next !== null, cursor: next, totalProcessed: processed };
  }

  /** A `next` link re-rooted on the configured base URL: a proxy or self-hosted instance may
   * advertise an internal host, and the key must only ever go to the configured one. */
  private onOurHost(next: string): string {
    const url = new URL(next, this.baseUrl());
    return `${url.pathname}${url.search}`;
  }

  private projectPath(rest: string): string {
    return `/api/projects/${encodeURIComponent(this.config.project_id)}/${rest}`;
  }

  private baseUrl(): string {
    return (this.config.base_url ?? REGIONS[this.config.region]).replace(/\/+$/, "");
  }

  private connectionFailure(err: unknown): string {
    if (err instanceof HttpError && err.status === 404 && !err.credentialsRejected) return this.projectMissing(err);
    return connectionFailureMessage(NAME, err, this.baseUrl());
  }


  private projectMissing(err: HttpError): string {
    return `project ${this.config.project_id} not found at ${new URL(this.baseUrl()).host} (check project_id, and region or base_url): ${err.message}`;
  }

  /** One line naming connector, entity and cause; keeps what the engine needs to decide a retry. */
  private entityFailure(entity: string, err: unknown): Error {
    const projectMissing = err instanceof HttpError && err.status === 404 && !err.credentialsRejected;
    return entityFailure(NAME, entity, err, projectMissing ? this.projectMissing(err) : undefined);
  }

}

/** Rows of a HogQL answer as records; `properties` comes back as JSON text. */
function eventRecords(body: unknown): DataRecord[] {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw permanent(`unexpected answer from the query API: expected {columns, results}, got ${Array.isArray(body) ? "an array" : typeof body}`);
  const { columns, results } = body as Partial<QueryResult>;
  if (!Array.isArray(columns) || !Array.isArray(results)) throw permanent(`unexpected answer from the query API: "columns" and "results" must be arrays`);
  for (const needed of ["uuid", "timestamp"]) if (!columns.includes(needed)) throw permanent(`unexpected answer from the query API: no "${needed}" column`);
  return results.map((row, i) => {
    if (!Array.isArray(row) || row.length !== columns.length) throw permanent(`unexpected answer from the query API: row ${i + 1} does not match the ${columns.length} columns`);
    const record: DataRecord = {};
    columns.forEach((c, j) => {
      const v = row[j];
      record[c] = c === "properties" && typeof v === "string" ? parseJson(v) : v;
    });
    return record;
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function restPageProblem(body: unknown): string | null {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return `expected {next, results}, got ${Array.isArray(body) ? "an array" : typeof body}`;
  const page = body as Record<string, unknown>;
  if (!Array.isArray(page.results)) return `"results" is not an array`;
  if (page.next !== null && page.next !== undefined && typeof page.next !== "string") return `"next" is neither a URL nor null`;
  const bad = page.results.findIndex((r) => r === null || typeof r !== "object" || (r as DataRecord).id === undefined);
  if (bad >= 0) return `item ${bad + 1} of "results" has no id`;
  return null;
}

function permanent(message: string): Error & { retryable: false } {
  return Object.assign(new Error(message), { retryable: false as const });
}
