import { z } from "zod";
import { BaseConnector, type RateLimitDefaults } from "../base/BaseConnector";
import { connectionFailureMessage, entityFailure, type HttpClient } from "../base/http";
import { requestTarget, secret } from "../base/secret";
import type { ConnectionTestResult, DataRecord, EntityDeclaration, FetchState, ResumableFetchOptions } from "../base/types";

export const closeConfigSchema = z.object({
  api_key: secret(z.string().min(1, "api_key is required").describe("Close API key (Settings → API Keys); sent as the Basic-auth username")),
  base_url: requestTarget(z.string().url("base_url must be an absolute URL").optional().describe("API base URL; default https://api.close.com/api/v1")),
});
export type CloseConfig = z.infer<typeof closeConfigSchema>;

const NAME = "close";
const DEFAULT_BASE_URL = "https://api.close.com/api/v1";
/** Close keeps 30 days of event log: deletions older than that cannot be seen. */
const EVENT_LOG_DAYS = 30;
const PAGE_LIMIT = 100;
const EVENT_PAGE_LIMIT = 50;

interface Updated {
  /** List endpoint, relative to the base URL. */
  path: string;
  /** Object type in the event log, for deletions. */
  objectType: string;
  /** Leads filter through the search `query`; the others through `date_updated__gte`. */
  filter: "query" | "params";
}

/**
 * Activities are one entity per sub-type: each has its own endpoint, its own fields (a call's
 * duration, an email's body) and its own event-log type, so each gets its own table and its
 * own incremental mark — a busy email stream never moves the calls' cursor, and no sub-type's
 * columns are mixed into another's.
 */
const ACTIVITY_TYPES = ["call", "email", "note", "meeting", "sms"] as const;

const UPDATED_ENTITIES: Record<string, Updated> = {
  leads: { path: "lead/", objectType: "lead", filter: "query" },
  contacts: { path: "contact/", objectType: "contact", filter: "params" },
  opportunities: { path: "opportunity/", objectType: "opportunity", filter: "params" },
  ...Object.fromEntries(
    ACTIVITY_TYPES.map((t) => [`activities_${t}`, { path: `activity/${t}/`, objectType: `activity.${t}`, filter: "params" as const }]),
  ),
};
const CUSTOM_FIELD_TYPES = ["lead", "contact", "opportunity"] as const;
const WHOLE_ENTITIES = ["users", "custom_fields"] as const;
const ENTITIES = [...Object.keys(UPDATED_ENTITIES), ...WHOLE_ENTITIES];

interface ClosePage {
  data: DataRecord[];
  has_more: boolean;
}
interface CloseEventPage {
  data: { object_id: string; date_created: string; data: DataRecord | null; previous_data: DataRecord | null }[];
  cursor_next: string | null;
}

type Phase =
  | { phase: "updated"; after: string | null; skip: number }
  | { phase: "deleted"; cursor: string | null }
  | { phase: "whole"; part: number; skip: number };

/**
 * Close CRM: leads, contacts, opportunities and each activity sub-type read in `date_updated`
 * order with a keyset (`date_updated__gte` the last value seen, `_skip` only past the records
 * sharing it), so deep pagination never hits Close's `_skip` cap; deletions come from the
 * event log (`action=deleted`, cursor-paginated). Users and custom fields are small and read whole.
 */
export class CloseConnector extends BaseConnector<HttpClient, CloseConfig> {
  private get config(): CloseConfig {
    return this.validConfig<CloseConfig>(NAME);
  }

  private get api(): HttpClient {
    this.client ??= this.createHttpClient({
      baseUrl: `${this.baseUrl()}/`,
      headers: { authorization: `Basic ${Buffer.from(`${this.config.api_key}:`).toString("base64")}` },
      secrets: [this.config.api_key],
    });
    return this.client;
  }

  getMetadata() {
    return {
      name: "Close",
      version: "1.0.0",
      description: "Close CRM: leads, contacts, opportunities, activities per sub-type, users and custom fields. Incremental by date_updated, deletions from the event log.",
      supportedEntities: ENTITIES,
      author: "Mako",
    };
  }

  getConfigSchema() {
    return closeConfigSchema;
  }

  getEntityDeclarations(): Record<string, EntityDeclaration> {
    const updated = (what: string): EntityDeclaration => ({
      cursorField: "date_updated",
      description: `${what}. Incremental by date_updated; deletions from Close's event log (action=deleted, kept 30 days — older ones need a full refresh).`,
    });
    const out: Record<string, EntityDeclaration> = {
      leads: updated("Leads, custom field values as custom.cf_… columns"),
      contacts: updated("Contacts"),
      opportunities: updated("Opportunities"),
      users: { incremental: false, description: "Users of the organization: no date_updated filter, read whole each run (a full refresh marks removed users deleted)" },
      custom_fields: { incremental: false, description: "Lead, contact and opportunity custom field definitions (object_type column): read whole each run" },
    };
    for (const t of ACTIVITY_TYPES) out[`activities_${t}`] = updated(`${t === "sms" ? "SMS" : t[0].toUpperCase() + t.slice(1)} activities (their own table: sub-types never overwrite one another)`);
    return out;
  }

  /**
   * Close limits per API key and endpoint group and tells the quota in its `RateLimit` header,
   * which the shared client follows; its docs' example key limit is 20 requests/s.
   */
  getDefaultRateLimit(): RateLimitDefaults {
    return { requestsPerSecond: 20, burst: 20 };
  }

  supportsResumableFetching() {
    return true;
  }

  async testConnection(): Promise<ConnectionTestResult> {
    // A config that does not parse is a failed test with its one-line reason, not a crash.
    const problem = this.configProblem(NAME);
    if (problem) return { success: false, message: problem };
    try {
      const me = await this.api.get<{ organizations?: { name?: string }[] }>("me/");
      return { success: true, message: `Connected to Close${me?.organizations?.[0]?.name ? ` (${me.organizations[0].name})` : ""}` };
    } catch (err) {
      return { success: false, message: connectionFailureMessage(NAME, err, this.baseUrl()) };
    }
  }

  async fetchEntityChunk(options: ResumableFetchOptions): Promise<FetchState> {
    this.assertKnownEntity(options.entity, NAME);
    try {
      return await this.fetchChunk(options);
    } catch (err) {
      throw entityFailure(NAME, options.entity, err);
    }
  }

  private async fetchChunk(options: ResumableFetchOptions): Promise<FetchState> {
    const entity = options.entity;
    const limit = Math.min(PAGE_LIMIT, Math.max(1, options.batchSize));
    const since = typeof options.since === "string" ? options.since : undefined;
    let processed = options.state?.totalProcessed ?? 0;
    const emit = async (records: DataRecord[]) => {
      if (records.length === 0) return;
      await options.onBatch(records);
      processed += records.length;
      options.onProgress({ processed });
    };
    const spec = UPDATED_ENTITIES[entity];
    let phase = options.state?.metadata?.phase as Phase | undefined;
    phase ??= spec ? { phase: "updated", after: since ?? null, skip: 0 } : { phase: "whole", part: 0, skip: 0 };
    const more = (p: Phase, cursor: string | null): FetchState => ({ hasMore: true, cursor, totalProcessed: processed, metadata: { phase: p } });

    for (let calls = 0; calls < options.maxIterations; calls++) {
      if (phase.phase === "whole") {
        const path = entity === "users" ? "user/" : `custom_field/${CUSTOM_FIELD_TYPES[phase.part]}/`;
        const page = await this.page(path, { _skip: phase.skip, _limit: limit }, options.signal);
        const objectType = entity === "custom_fields" ? CUSTOM_FIELD_TYPES[phase.part] : undefined;
        await emit(objectType ? page.data.map((r) => ({ ...r, object_type: objectType })) : page.data);
        if (page.has_more && page.data.length > 0) phase = { ...phase, skip: phase.skip + page.data.length };
        else if (entity === "custom_fields" && phase.part + 1 < CUSTOM_FIELD_TYPES.length) phase = { phase: "whole", part: phase.part + 1, skip: 0 };
        else return { hasMore: false, totalProcessed: processed };
        continue;
      }

      if (phase.phase === "updated") {
        const page = await this.page(spec.path, this.updatedQuery(spec, phase, limit), options.signal);
        await emit(page.data);
        let after: string | null = phase.after;
        let skip: number = phase.skip;
        for (const record of page.data) {
          const at = record.date_updated;
          if (typeof at !== "string") throw permanent(`record ${String(record.id)} from GET ${spec.path} has no date_updated`);
          if (at === after) skip++;
          else {
            after = at;
            skip = 1;
          }
        }
        if (page.has_more && page.data.length > 0) {
          phase = { phase: "updated", after, skip };
          continue;
        }
        if (since === undefined) return { hasMore: false, totalProcessed: processed };
        if (Date.parse(since) < Date.now() - EVENT_LOG_DAYS * 86_400_000) {
          options.onLog("warn", `${NAME}: ${entity}: the last sync (${since}) is older than Close's ${EVENT_LOG_DAYS}-day event log: deletions before then cannot be seen; run a full refresh to mark them`);
        }
        phase = { phase: "deleted", cursor: null };
        continue;
      }

      // Deletions since the mark, from the event log.
      const body = await this.api.get<unknown>(
        "event/",
        { object_type: spec.objectType, action: "deleted", date_updated__gte: since, _limit: EVENT_PAGE_LIMIT, _cursor: phase.cursor ?? undefined },
        { signal: options.signal },
      );
      const problem = eventPageProblem(body);
      if (problem) throw permanent(`unexpected page from GET event/: ${problem}`);
      const page = body as CloseEventPage;
      await emit(
        page.data.map((e) => ({
          ...(e.previous_data ?? e.data ?? {}),
          id: e.object_id,
          _mako_deleted_at: new Date(Date.parse(e.date_created)).toISOString(),
        })),
      );
      if (!page.cursor_next || page.data.length === 0) return { hasMore: false, totalProcessed: processed };
      phase = { phase: "deleted", cursor: page.cursor_next };
    }
    return more(phase, phase.phase === "updated" ? phase.after : phase.phase === "deleted" ? phase.cursor : String(phase.skip));
  }

  private updatedQuery(spec: Updated, phase: { after: string | null; skip: number }, limit: number) {
    const base = { _skip: phase.skip, _limit: limit };
    if (spec.filter === "query") {
      const filter = phase.after ? `date_updated >= "${phase.after}" ` : "";
      return { ...base, query: `${filter}sort:date_updated` };
    }
    return { ...base, _order_by: "date_updated", date_updated__gte: phase.after ?? undefined };
  }

  private async page(path: string, query: Record<string, string | number | undefined>, signal?: AbortSignal): Promise<ClosePage> {
    const body = await this.api.get<unknown>(path, query, { signal });
    const problem = pageProblem(body);
    if (problem) throw permanent(`unexpected page from GET ${path}: ${problem}`);
    return body as ClosePage;
  }

  private baseUrl(): string {
    return (this.config.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
  }
}

function pageProblem(body: unknown): string | null {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return `expected {data, has_more}, got ${Array.isArray(body) ? "an array" : typeof body}`;
  const page = body as Record<string, unknown>;
  if (!Array.isArray(page.data)) return `"data" is not an array`;
  if (typeof page.has_more !== "boolean") return `"has_more" is not a boolean`;
  const bad = page.data.findIndex((r) => r === null || typeof r !== "object" || typeof (r as DataRecord).id !== "string");
  if (bad >= 0) return `item ${bad + 1} of "data" has no string id`;
  return null;
}

function eventPageProblem(body: unknown): string | null {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return `expected {data, cursor_next}, got ${typeof body}`;
  const page = body as Record<string, unknown>;
  if (!Array.isArray(page.data)) return `"data" is not an array`;
  if (page.cursor_next !== null && typeof page.cursor_next !== "string") return `"cursor_next" is neither a string nor null`;
  const bad = page.data.findIndex((e) => e === null || typeof e !== "object" || typeof (e as Record<string, unknown>).object_id !== "string");
  if (bad >= 0) return `event ${bad + 1} has no object_id`;
  return null;
}

function permanent(message: string): Error & { retryable: false } {
  return Object.assign(new Error(message), { retryable: false as const });
}

/** One line naming connector, entity and cause; keeps what the engine needs to decide a retry. */

