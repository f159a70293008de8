import { z } from "zod";
import { BaseConnector, type RateLimitDefaults } from "../base/BaseConnector";
import { HttpError, connectionFailureMessage, entityFailure, type HttpClient } from "../base/http";
import { requestTarget, secret } from "../base/secret";
import type { ConnectionTestResult, DataRecord, EntityDeclaration, FetchState, ResumableFetchOptions } from "../base/types";
import type { WebhookSupport } from "../base/webhooks";
import { eventPageProblem, listPageProblem, searchPageProblem, type EventPage, type ListPage, type SearchPage } from "./pages";
import { ACTIVITY_TYPES, closeMicros, deletionRecord, UPDATED_ENTITIES, type Updated } from "./objects";
import { isMarkedDeleted } from "../base/deletions";
import { withVersion } from "../base/version";
import { SEARCH_FIELDS } from "./searchFields";
import { closeWebhooks } from "./webhooks";

export const closeConfigSchema = z.object({
  api_key: secret(z.string().min(1, "api_key is required").describe("Close API key (Settings → API Keys); sent as the Basic-auth username")),
  base_url: requestTarget(z.string().url("base_url must be an absolute URL").optional().describe("API base URL; default https://api.close.com/api/v1")),
  webhook_signature_key: secret(
    z
      .string()
      .trim()
      .regex(/^([0-9a-fA-F]{2})+$/, "webhook_signature_key must be the hex signature_key Close returned when the webhook subscription was created")
      .optional()
      .describe("signature_key of the Close webhook subscription sending to mako serve's /hooks/NAME"),
  ),
});
export type CloseConfig = z.infer<typeof closeConfigSchema>;

const NAME = "close";
const DEFAULT_BASE_URL = "https://api.close.com/api/v1";
/** Close keeps 30 days of event log: deletions older than that cannot be seen. */
const EVENT_LOG_DAYS = 30;
/** Largest page of the list endpoints and of the Advanced Filtering API. */
const LIST_LIMIT = 100;
const SEARCH_LIMIT = 200;
const EVENT_PAGE_LIMIT = 50;

const CUSTOM_FIELD_TYPES = ["lead", "contact", "opportunity"] as const;
const WHOLE_ENTITIES = ["users", "custom_fields"] as const;
const ENTITIES = [...Object.keys(UPDATED_ENTITIES), ...WHOLE_ENTITIES];

/** What one chunk works with; `processed` counts the pass's records so far. */
interface Pass {
  options: ResumableFetchOptions;
  /** Unset for users and custom fields, whose whole-read steps never need it. */
  spec?: Updated;
  since: string | undefined;
  processed: number;
}

type Phase =
  /** Listing the object type's custom fields, to ask the search for their values. */
  | { phase: "fields"; skip: number; custom: string[] }
  /**
   * `from` is the query's lower bound on date_updated (the last run's mark, or where a refused
   * cursor left off); `last` the date_updated of the last object read.
   */
  | { phase: "search"; cursor: string | null; custom: string[]; from: string | null; last: string | null }
  | { phase: "list"; after: string | null; skip: number }
  | { phase: "deleted"; cursor: string | null }
  | { phase: "whole"; part: number; skip: number };

/**
 * Close CRM. Leads, contacts and each activity sub-type are read through the Advanced Filtering
 * API in date_updated order with its cursor; opportunities through their list, which documents
 * a date_updated filter and order (keyset: `date_updated__gte` the last value seen, `_skip` only
 * past the records sharing it, so Close's `_skip` cap is never reached). A pass notes Close's
 * clock when it starts (the Date header of its first answer); the next pass reads changes and
 * the event log's deletions from there. Users and custom fields are small and read whole.
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
    const updated = (what: string, how: string): EntityDeclaration => ({
      cursorField: "date_updated",
      description: `${what}. ${how}, changes since the start of the last run; deletions from Close's event log (action=deleted, kept 30 days — older ones need a full refresh).`,
    });
    const searched = "Advanced Filtering API (POST /data/search/, date_updated order, cursor)";
    const out: Record<string, EntityDeclaration> = {
      leads: updated("Leads, custom field values as custom.cf_… columns", searched),
      contacts: updated("Contacts, custom field values as custom.cf_… columns", searched),
      opportunities: updated("Opportunities", "GET /opportunity/ by date_updated__gte and _order_by=date_updated"),
      users: { incremental: false, description: "Users of the organization: no date_updated filter, read whole each run (a full refresh marks removed users deleted)" },
      custom_fields: { incremental: false, description: "Lead, contact and opportunity custom field definitions (object_type column): read whole each run" },
    };
    for (const t of ACTIVITY_TYPES) {
      out[`activities_${t}`] = updated(`${t === "sms" ? "SMS" : t[0].toUpperCase() + t.slice(1)} activities (their own table: sub-types never overwrite one another)`, searched);
    }
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

  /** Close's signed webhooks (developer.close.com/api/resources/webhooks), in the pull's row shape. */
  webhookEvents(): WebhookSupport {
    return closeWebhooks(this.config.webhook_signature_key);
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
    const spec: Updated | undefined = UPDATED_ENTITIES[options.entity];
    const pass: Pass = {
      options,
      spec,
      since: typeof options.since === "string" ? options.since : undefined,
      processed: options.state?.totalProcessed ?? 0,
    };
    let phase = options.state?.metadata?.phase as Phase | undefined;
    let mark = options.state?.metadata?.mark as string | undefined;
    let calls = 0;
    if (!phase) {
      if (spec) {
        mark = await this.passStart({ ...pass, spec });
        calls++;
        phase = spec.via === "list" ? { phase: "list", after: pass.since ?? null, skip: 0 } : spec.customFields ? { phase: "fields", skip: 0, custom: [] } : search([], pass.since);
      } else phase = { phase: "whole", part: 0, skip: 0 };
    }
    for (; calls < options.maxIterations; calls++) {
      const next = await this.step(phase, pass);
      if (next === "done") return { hasMore: false, totalProcessed: pass.processed, ...(mark ? { metadata: { highWaterMark: mark } } : {}) };
      phase = next;
    }
    const cursor = phase.phase === "search" || phase.phase === "deleted" ? phase.cursor : phase.phase === "list" ? phase.after : String(phase.skip);
    return { hasMore: true, cursor, totalProcessed: pass.processed, metadata: { phase, ...(mark ? { mark } : {}) } };
  }

  /** One API call of the pass; the phase to continue with, or "done". */
  private step(phase: Phase, pass: Pass): Promise<Phase | "done"> {
    switch (phase.phase) {
      case "whole":
        return this.wholeStep(phase, pass);
      case "fields":
        return this.fieldsStep(phase, pass);
      case "search":
        return this.searchStep(phase, pass);
      case "list":
        return this.listStep(phase, pass);
      case "deleted":
        return this.deletedStep(phase, pass);
    }
  }

  /** Users and custom field definitions, page by page. */
  private async wholeStep(phase: Extract<Phase, { phase: "whole" }>, pass: Pass): Promise<Phase | "done"> {
    const entity = pass.options.entity;
    const path = entity === "users" ? "user/" : `custom_field/${CUSTOM_FIELD_TYPES[phase.part]}/`;
    const page = await this.listPage(path, { _skip: phase.skip, _limit: pageSize(pass, LIST_LIMIT) }, pass.options.signal);
    const objectType = entity === "custom_fields" ? CUSTOM_FIELD_TYPES[phase.part] : undefined;
    await emit(pass, objectType ? page.data.map((r) => ({ ...r, object_type: objectType })) : page.data);
    if (page.has_more && page.data.length > 0) return { ...phase, skip: phase.skip + page.data.length };
    if (entity === "custom_fields" && phase.part + 1 < CUSTOM_FIELD_TYPES.length) return { phase: "whole", part: phase.part + 1, skip: 0 };
    return "done";
  }

  /** The object type's custom field ids, so the search returns their values too. */
  private async fieldsStep(phase: Extract<Phase, { phase: "fields" }>, pass: Pass): Promise<Phase> {
    const type = (pass.spec as { customFields: "lead" | "contact" }).customFields;
    const page = await this.listPage(`custom_field/${type}/`, { _skip: phase.skip, _limit: LIST_LIMIT, _fields: "id" }, pass.options.signal);
    const custom = [...phase.custom, ...page.data.map((f) => `custom.${String(f.id)}`)];
    return page.has_more && page.data.length > 0 ? { phase: "fields", skip: phase.skip + page.data.length, custom } : search(custom, pass.since);
  }

  private async searchStep(phase: Extract<Phase, { phase: "search" }>, pass: Pass): Promise<Phase | "done"> {
    let page: SearchPage;
    try {
      page = await this.searchPage(pass.spec!.objectType, pageSize(pass, SEARCH_LIMIT), phase, pass.options.signal);
    } catch (err) {
      // How long a cursor lives is not documented: one Close no longer takes (a checkpoint
      // resumed days later) must not wedge the entity. Start the search again from the last
      // date_updated read; objects read twice are upserted twice, nothing is skipped.
      if (!(phase.cursor && err instanceof HttpError && err.status === 400)) throw err;
      const from = phase.last ?? phase.from;
      pass.options.onLog("warn", `${NAME}: ${pass.options.entity}: Close refused the search cursor (${err.message}): searching again from date_updated ${from ?? "the start"}`);
      return { ...phase, cursor: null, from };
    }
    await emit(pass, page.data.map(({ __object_type: _, ...record }) => record));
    const last = page.data.at(-1)?.date_updated;
    if (page.cursor && page.data.length > 0) return { ...phase, cursor: page.cursor, last: typeof last === "string" ? last : phase.last };
    return afterUpserts(pass);
  }

  /** Opportunities by keyset: `date_updated__gte` the last value seen, `_skip` past the ones sharing it. */
  private async listStep(phase: Extract<Phase, { phase: "list" }>, pass: Pass): Promise<Phase | "done"> {
    const path = (pass.spec as { path: string }).path;
    const page = await this.listPage(
      path,
      { _skip: phase.skip, _limit: pageSize(pass, LIST_LIMIT), _order_by: "date_updated", date_updated__gte: phase.after ?? undefined },
      pass.options.signal,
    );
    await emit(pass, page.data);
    let { after, skip } = phase;
    for (const record of page.data) {
      const at = record.date_updated;
      if (typeof at !== "string") throw permanent(`record ${String(record.id)} from GET ${path} has no date_updated`);
      if (at === after) skip++;
      else {
        after = at;
        skip = 1;
      }
    }
    if (page.has_more && page.data.length > 0) return { phase: "list", after, skip };
    return afterUpserts(pass);
  }

  /** Deletions since the last run's start, from the event log. */
  private async deletedStep(phase: Extract<Phase, { phase: "deleted" }>, pass: Pass): Promise<Phase | "done"> {
    const body = await this.api.get<unknown>(
      "event/",
      { object_type: pass.spec!.objectType, action: "deleted", date_updated__gte: pass.since, _limit: EVENT_PAGE_LIMIT, _cursor: phase.cursor ?? undefined },
      { signal: pass.options.signal },
    );
    const problem = eventPageProblem(body);
    if (problem) throw permanent(`unexpected page from GET event/: ${problem}`);
    const page = body as EventPage;
    await emit(
      pass,
      page.data.map((e) => deletionRecord(pass.spec!, e)),
    );
    return page.cursor_next && page.data.length > 0 ? { phase: "deleted", cursor: page.cursor_next } : "done";
  }

  /**
   * The first call of a pass: Close's clock now, from the Date header of an event-log answer.
   * Whatever changes or is deleted after this moment is read by the next pass, so a deletion
   * during this one (of an object it already read) is never lost.
   */
  private async passStart({ options, spec, since }: Pass & { spec: Updated }): Promise<string> {
    const response = await this.api.request<unknown>({
      method: "GET",
      path: "event/",
      query: { object_type: spec.objectType, action: "deleted", _limit: 1 },
      signal: options.signal,
    });
    const now = closeClock(response.headers);
    if (since !== undefined && Date.parse(since) < Date.parse(now) - EVENT_LOG_DAYS * 86_400_000) {
      options.onLog("warn", `${NAME}: ${options.entity}: the last sync (${since}) is older than Close's ${EVENT_LOG_DAYS}-day event log: deletions before then cannot be seen; run a full refresh to mark them`);
    }
    return now;
  }

  /** One page of the Advanced Filtering API: the type's objects (changed since `phase.from`) in date_updated order. */
  private async searchPage(objectType: string, limit: number, phase: Extract<Phase, { phase: "search" }>, signal?: AbortSignal): Promise<SearchPage> {
    const dateUpdated = { type: "regular_field", object_type: objectType, field_name: "date_updated" };
    const queries: unknown[] = [{ type: "object_type", object_type: objectType }];
    if (phase.from !== null) {
      queries.push({ type: "field_condition", field: dateUpdated, condition: { type: "moment_range", on_or_after: { type: "fixed_utc", value: phase.from } } });
    }
    const body = {
      query: { type: "and", queries },
      sort: [{ direction: "asc", field: dateUpdated }],
      _limit: limit,
      _fields: { [objectType]: [...SEARCH_FIELDS[objectType], ...phase.custom] },
      ...(phase.cursor ? { cursor: phase.cursor } : {}),
    };
    const answer = await this.api.post<unknown>("data/search/", body, { signal });
    const problem = searchPageProblem(answer);
    if (problem) throw permanent(`unexpected page from POST data/search/: ${problem}`);
    return answer as SearchPage;
  }

  private async listPage(path: string, query: Record<string, string | number | undefined>, signal?: AbortSignal): Promise<ListPage> {
    const body = await this.api.get<unknown>(path, query, { signal });
    const problem = listPageProblem(body);
    if (problem) throw permanent(`unexpected page from GET ${path}: ${problem}`);
    return body as ListPage;
  }

  private baseUrl(): string {
    return (this.config.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
  }
}

async function emit(pass: Pass, records: DataRecord[]): Promise<void> {
  if (records.length === 0) return;
  await pass.options.onBatch(records.map(ranked));
  pass.processed += records.length;
  pass.options.onProgress({ processed: pass.processed });
}

function search(custom: string[], since: string | undefined): Phase {
  return { phase: "search", cursor: null, custom, from: since ?? null, last: null };
}

/** Created and updated objects are read: the deletions next, if there was a last run. */
function afterUpserts(pass: Pass): Phase | "done" {
  return pass.since === undefined ? "done" : { phase: "deleted", cursor: null };
}

function pageSize(pass: Pass, max: number): number {
  return Math.min(max, Math.max(1, pass.options.batchSize));
}

/** Close's clock (ISO) from a response's Date header. */
function closeClock(headers: Headers): string {
  const ms = Date.parse(headers.get("date") ?? "");
  if (Number.isNaN(ms)) throw permanent("Close's answer has no valid Date header: its clock is needed to know where the next sync must resume");
  return new Date(ms).toISOString();
}

function permanent(message: string): Error & { retryable: false } {
  return Object.assign(new Error(message), { retryable: false as const });
}



/**
 * An object read ranks at its own `date_updated`, as its webhook events do: both on Close's
 * clock, and exactly the state's time (a later change has a later one). Deletions rank at their
 * event's time (deletionRecord).
 */
function ranked(record: DataRecord): DataRecord {
  if (isMarkedDeleted(record) || typeof record.date_updated !== "string") return record;
  const micros = closeMicros(record.date_updated);
  return Number.isFinite(micros) ? withVersion(record, micros) : record;
}
