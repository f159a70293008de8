import { z } from "zod";
import { BaseConnector, type RateLimitDefaults } from "../base/BaseConnector";
import { HttpError, connectionFailureMessage, entityFailure, type HttpClient } from "../base/http";
import { requestTarget, secret } from "../base/secret";
import type { ConnectionTestResult, DataRecord, EntityDeclaration, FetchState, ResumableFetchOptions } from "../base/types";
import type { WebhookSupport } from "../base/webhooks";
import { EVENT_ENTITIES, eventRecord, listVersion, type StripeEvent } from "./events";
import { withVersion } from "../base/version";
import { splitSecrets, stripeWebhooks } from "./webhooks";

export const stripeConfigSchema = z.object({
  api_key: secret(z.string().min(1, "api_key is required").describe("Secret key (sk_live_… / sk_test_…) or a restricted key with read access")),
  base_url: requestTarget(
    z
      .string()
      .url("base_url must be an absolute URL")
      .optional()
      .describe("API base URL, with or without /v1; default https://api.stripe.com (set it for a proxy or a local fake)"),
  ),
  webhook_secret: secret(
    z
      .union([z.string().trim().min(1), z.array(z.string().trim().min(1)).min(1).max(5)])
      .refine((v) => splitSecrets(v).every((s) => s.startsWith("whsec_")), "webhook_secret must be the endpoint's signing secret (whsec_…), or several during a rotation")
      .optional()
      .describe("Webhook signing secret (whsec_…) of the endpoint registered for mako serve's /hooks/NAME; during a rotation, the old and new ones (a list, or separated by spaces or commas)"),
  ),
});
export type StripeConfig = z.infer<typeof stripeConfigSchema>;

const NAME = "stripe";
const DEFAULT_BASE_URL = "https://api.stripe.com";
/** Stripe keeps events 30 days; a mark older than this (less a safety hour) cannot be resumed. */
const EVENT_RETENTION_SECONDS = 30 * 86_400 - 3_600;
/** The mark earlier versions saved when the account had no event at backfill time: nothing to resume from. */
const LEGACY_NO_EVENT_MARK = "none";
/** Events per page while looking for the oldest one to replay from (nothing is emitted then). */
const SEEK_PAGE = 100;

type EventEntity = keyof typeof EVENT_ENTITIES;
/** Immutable objects, read by `created`. */
const CREATED_ENTITIES = ["balance_transactions", "events"] as const;
type CreatedEntity = (typeof CREATED_ENTITIES)[number];
type StripeEntity = EventEntity | CreatedEntity;
const ENTITIES = [...(Object.keys(EVENT_ENTITIES) as EventEntity[]), ...CREATED_ENTITIES];

/** Extra list parameters: canceled subscriptions are left out of the list unless asked for. */
const LIST_QUERY: Partial<Record<StripeEntity, Record<string, string>>> = { subscriptions: { status: "all" } };

interface StripeList {
  object: "list";
  data: DataRecord[];
  has_more: boolean;
}

/**
 * Where the Events API resumes: just after an event (its id), or at a moment of Stripe's clock
 * (epoch seconds, from its Date header) when the account had no event to point at.
 */
type EventMark = string | number;
/** The account's newest event when the pass began. */
type Ceiling = { id: string; created: number } | null;

type Phase =
  | { phase: "backfill"; after: string | null; anchor: EventMark }
  | { phase: "seek"; from: number; after: string | null; ceiling: Ceiling; now: number }
  | { phase: "events"; after: string; ceiling: Ceiling; lastCreated: number }
  | { phase: "created"; after: string | null };

/**
 * Stripe: backfills through list endpoints (`limit`, `starting_after`, `has_more`), then keeps
 * objects current through the Events API — updates upserted from `data.object`, `*.deleted`
 * events marked `_mako_deleted_at` — from the saved mark: the newest event when the backfill
 * began, or Stripe's clock then (its Date header) if the account had none. Balance
 * transactions and events are immutable and read by `created`.
 */
export class StripeConnector extends BaseConnector<HttpClient, StripeConfig> {
  private get config(): StripeConfig {
    return this.validConfig<StripeConfig>(NAME);
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
      name: "Stripe",
      version: "1.0.0",
      description: "Payments data: customers, products, prices, subscriptions, invoices, charges, payment intents, refunds, balance transactions and events. Incremental through the Events API, deletions included.",
      supportedEntities: [...ENTITIES],
      author: "Mako",
    };
  }

  getConfigSchema() {
    return stripeConfigSchema;
  }

  getEntityDeclarations(): Record<StripeEntity, EntityDeclaration> {
    const viaEvents = (what: string): EntityDeclaration => ({
      incremental: true,
      description: `${what}. First run: the list endpoint. Then: the Events API from where that run began (the last event seen, or Stripe's clock) — changes upserted from data.object, deletions marked _mako_deleted_at. A mark older than Stripe's 30-day event retention falls back to a backfill (run a full refresh then to mark deletions).`,
    });
    return {
      customers: viaEvents("Customers; customer.deleted marks a row deleted"),
      products: viaEvents("Products; product.deleted marks a row deleted"),
      prices: viaEvents("Prices; price.deleted marks a row deleted"),
      subscriptions: viaEvents("Subscriptions, canceled ones included (status=all); customer.subscription.deleted is a cancellation, kept as status=canceled, not a deletion"),
      invoices: viaEvents("Invoices; invoice.deleted (draft invoices) marks a row deleted"),
      charges: viaEvents("Charges (Stripe never deletes them)"),
      payment_intents: viaEvents("Payment intents (Stripe never deletes them)"),
      refunds: viaEvents("Refunds, from refund.* and charge.refund.updated events"),
      balance_transactions: { cursorField: "created", description: "Balance transactions: immutable, read by created (created[gte] the last mark)" },
      events: { cursorField: "created", description: "Events of the last 30 days (Stripe's retention): immutable, read by created" },
    };
  }

  /** 100 read requests/s in live mode, 25 in test mode (docs.stripe.com/rate-limits). */
  getDefaultRateLimit(): RateLimitDefaults {
    // Read raw: the limit is asked for before the config is known to be valid.
    const test = /^(sk|rk)_test_/.test(String(this.dataSource.config?.api_key ?? ""));
    return test ? { requestsPerSecond: 25, burst: 25 } : { requestsPerSecond: 100, burst: 100 };
  }

  supportsResumableFetching() {
    return true;
  }

  /** Stripe's signed webhooks (docs.stripe.com/webhooks), mapped to the same rows as the Events API replay. */
  webhookEvents(): WebhookSupport {
    return stripeWebhooks(splitSecrets(this.config.webhook_secret));
  }

  async testConnection(): Promise<ConnectionTestResult> {
    // A config that does not parse is a failed test with its one-line reason, not a crash.
    const problem = this.configProblem(NAME);
    if (problem) return { success: false, message: problem };
    try {
      await this.api.get("/v1/events", { limit: 1 });
      return { success: true, message: `Connected to Stripe (${/_test_/.test(this.config.api_key) ? "test" : "live"} mode)` };
    } catch (err) {
      return { success: false, message: connectionFailureMessage(NAME, err, this.baseUrl()) };
    }
  }

  async fetchEntityChunk(options: ResumableFetchOptions): Promise<FetchState> {
    const entity = options.entity as StripeEntity;
    this.assertKnownEntity(options.entity, NAME);
    try {
      return await this.fetchChunk(entity, options);
    } catch (err) {
      throw entityFailure(NAME, entity, err);
    }
  }

  private async fetchChunk(entity: StripeEntity, options: ResumableFetchOptions): Promise<FetchState> {
    const limit = Math.min(100, Math.max(1, options.batchSize));
    let calls = 0;
    let processed = options.state?.totalProcessed ?? 0;
    let phase = options.state?.metadata?.phase as Phase | undefined;
    const emit = async (records: DataRecord[]) => {
      if (records.length === 0) return;
      await options.onBatch(records);
      processed += records.length;
      options.onProgress({ processed });
    };

    if (!phase) {
      const start = await this.startPass(entity, options);
      calls += start.calls;
      phase = start.phase;
    }

    if (phase.phase === "created") {
      const path = `/v1/${entity}`;
      let after = phase.after;
      const since = typeof options.since === "number" ? options.since : options.since === undefined ? undefined : Number(options.since);
      for (; calls < options.maxIterations; calls++) {
        const page = await this.list(entity, path, { limit, starting_after: after ?? undefined, "created[gte]": Number.isFinite(since) ? since : undefined }, options.signal);
        await emit(page.data);
        if (page.data.length > 0) after = String(page.data[page.data.length - 1].id);
        if (!page.has_more || page.data.length === 0) return { hasMore: false, totalProcessed: processed };
      }
      return this.state({ phase: "created", after }, processed, after);
    }

    if (phase.phase === "backfill") {
      let after = phase.after;
      for (; calls < options.maxIterations; calls++) {
        const { body: page, headers } = await this.listWithHeaders(entity, `/v1/${entity}`, { limit, starting_after: after ?? undefined, ...LIST_QUERY[entity] }, options.signal);
        // Ranked on Stripe's clock, as its events are: this machine's may be off.
        const version = listVersion(stripeClock(headers));
        await emit(page.data.map((record) => withVersion(record, version)));
        if (page.data.length > 0) after = String(page.data[page.data.length - 1].id);
        if (!page.has_more || page.data.length === 0) {
          // The mark is where the account stood when the backfill began: later runs replay from it.
          return { hasMore: false, totalProcessed: processed, metadata: { highWaterMark: phase.anchor } };
        }
      }
      return this.state({ ...phase, after }, processed, after);
    }

    const spec = EVENT_ENTITIES[entity as EventEntity];

    if (phase.phase === "seek") {
      // The mark is a moment and no event precedes it: the replay starts at the oldest matching
      // event since then. Stripe lists newest first, so walk down to it before replaying upwards.
      let after = phase.after;
      for (; calls < options.maxIterations; calls++) {
        const page = await this.list(entity, "/v1/events", { limit: SEEK_PAGE, starting_after: after ?? undefined, "created[gte]": phase.from, ...spec.events }, options.signal);
        const events = page.data as unknown as StripeEvent[];
        if (events.length > 0) after = events[events.length - 1].id;
        if (page.has_more && events.length > 0) continue;
        if (after === null) {
          // Nothing of this entity since the mark: move it up so it never ages out of the retention.
          return { hasMore: false, totalProcessed: processed, metadata: { highWaterMark: phase.ceiling?.id ?? phase.now } };
        }
        const oldest = events.length > 0 ? events[events.length - 1] : await this.event(after, options.signal);
        calls++;
        await emit(eventRecords([oldest], spec.object));
        phase = { phase: "events", after: oldest.id, ceiling: phase.ceiling, lastCreated: oldest.created };
        break;
      }
      if (phase.phase === "seek") return this.state({ ...phase, after }, processed, after);
    }

    // Events: walk forward from the mark (ending_before pages are the ones just newer), oldest first.
    let { after, lastCreated } = phase;
    for (; calls < options.maxIterations; calls++) {
      const page = await this.list(entity, "/v1/events", { limit, ending_before: after, ...spec.events }, options.signal);
      const events = page.data as unknown as StripeEvent[];
      await emit(eventRecords(events, spec.object));
      if (events.length > 0) {
        after = events[0].id;
        lastCreated = events[0].created;
      }
      if (!page.has_more || events.length === 0) {
        // Move the mark up to the newest event of the account when nothing matched since, so a
        // quiet entity's mark does not age out of the 30-day window.
        const ceiling = phase.ceiling;
        const mark = ceiling && ceiling.created > lastCreated ? ceiling.id : after;
        return { hasMore: false, totalProcessed: processed, metadata: { highWaterMark: mark } };
      }
    }
    return this.state({ ...phase, after, lastCreated }, processed, after);
  }

  /**
   * The first calls of a pass: replay events from the mark, or read the lists (first run, full
   * refresh, a mark past the retention) noting where the Events API must resume afterwards.
   * "Now" is Stripe's clock, read from its Date header, never this machine's.
   */
  private async startPass(entity: StripeEntity, options: ResumableFetchOptions): Promise<{ phase: Phase; calls: number }> {
    if ((CREATED_ENTITIES as readonly string[]).includes(entity)) return { phase: { phase: "created", after: null }, calls: 0 };
    const { newest, now } = await this.newestEvent(entity, options.signal);
    const since = options.since;
    if (typeof since === "string" && since.startsWith("evt_")) {
      const kept = await this.eventStillKept(since, now, options.signal);
      if (kept) return { phase: { phase: "events", after: since, ceiling: newest, lastCreated: kept.created }, calls: 2 };
      options.onLog("warn", `${NAME}: ${entity}: the last event seen (${since}) is older than Stripe's 30-day event retention: falling back to a backfill through the list endpoint (deletions since then are only caught by a full refresh)`);
    } else if (typeof since === "number") {
      if (since >= now - EVENT_RETENTION_SECONDS) {
        const before = await this.eventBefore(entity, since, options.signal);
        if (before) return { phase: { phase: "events", after: before.id, ceiling: newest, lastCreated: before.created }, calls: 2 };
        return { phase: { phase: "seek", from: since, after: null, ceiling: newest, now }, calls: 2 };
      }
      options.onLog("warn", `${NAME}: ${entity}: the last sync (${new Date(since * 1000).toISOString()}) is older than Stripe's 30-day event retention: falling back to a backfill through the list endpoint (deletions since then are only caught by a full refresh)`);
    } else if (since === LEGACY_NO_EVENT_MARK) {
      options.onLog("info", `${NAME}: ${entity}: the account had no event at the last sync: reading the lists again`);
    }
    return { phase: { phase: "backfill", after: null, anchor: newest?.id ?? now }, calls: 1 };
  }

  /** The account's newest event (any type) and Stripe's clock, from one call. */
  private async newestEvent(entity: StripeEntity, signal?: AbortSignal): Promise<{ newest: Ceiling; now: number }> {
    const { body, headers } = await this.listWithHeaders(entity, "/v1/events", { limit: 1 }, signal);
    const first = body.data[0] as unknown as StripeEvent | undefined;
    return { newest: first ? { id: first.id, created: first.created } : null, now: stripeClock(headers) };
  }

  /** The newest event created before `at` (any type): the cursor to replay from `at` on. */
  private async eventBefore(entity: StripeEntity, at: number, signal?: AbortSignal): Promise<StripeEvent | null> {
    const page = await this.list(entity, "/v1/events", { limit: 1, "created[lt]": at }, signal);
    return (page.data[0] as unknown as StripeEvent | undefined) ?? null;
  }

  private async event(id: string, signal?: AbortSignal): Promise<StripeEvent> {
    const event = await this.api.get<StripeEvent>(`/v1/events/${encodeURIComponent(id)}`, undefined, { signal });
    if (typeof event?.created !== "number" || typeof event.id !== "string") throw permanent(`GET /v1/events/${id} returned no event`);
    return event;
  }

  /** The mark's event if Stripe still has it and it is inside the retention window, on Stripe's clock. */
  private async eventStillKept(id: string, now: number, signal?: AbortSignal): Promise<StripeEvent | null> {
    try {
      const event = await this.event(id, signal);
      return event.created >= now - EVENT_RETENTION_SECONDS ? event : null;
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) return null;
      throw err;
    }
  }

  private async list(entity: StripeEntity, path: string, query: Record<string, string | number | undefined>, signal?: AbortSignal): Promise<StripeList> {
    return (await this.listWithHeaders(entity, path, query, signal)).body;
  }

  private async listWithHeaders(
    _entity: StripeEntity,
    path: string,
    query: Record<string, string | number | undefined>,
    signal?: AbortSignal,
  ): Promise<{ body: StripeList; headers: Headers }> {
    const response = await this.api.request<unknown>({ method: "GET", path, query, signal });
    const problem = listProblem(response.body);
    if (problem) throw permanent(`unexpected page from GET ${path}: ${problem}`);
    return { body: response.body as StripeList, headers: response.headers };
  }

  private state(phase: Phase, processed: number, cursor: string | null): FetchState {
    return { hasMore: true, cursor, totalProcessed: processed, metadata: { phase } };
  }

  /** The API's root: paths here start with /v1, so a base_url given with its /v1 means the same. */
  private baseUrl(): string {
    return (this.config.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, "").replace(/\/v1$/, "");
  }
}

/** Records from events (newest first, as listed), oldest first, only those about `object`. */
function eventRecords(events: StripeEvent[], object: string): DataRecord[] {
  const records: DataRecord[] = [];
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i];
    const data = event?.data?.object;
    if (!data || typeof data !== "object" || typeof event.id !== "string") {
      throw permanent(`event ${i + 1} of the page has no data.object`);
    }
    if (data.object !== object) continue;
    records.push(eventRecord(event));
  }
  return records;
}

/** Stripe's clock (epoch seconds) from a response's Date header. */
function stripeClock(headers: Headers): number {
  const ms = Date.parse(headers.get("date") ?? "");
  if (Number.isNaN(ms)) throw permanent("Stripe's answer has no valid Date header: its clock is needed to know where the Events API must resume");
  return Math.floor(ms / 1000);
}

function listProblem(body: unknown): string | null {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return `expected a list object, got ${Array.isArray(body) ? "an array" : typeof body}`;
  const list = body as Record<string, unknown>;
  if (list.object !== "list") return `"object" is ${JSON.stringify(list.object)}, not "list"`;
  if (!Array.isArray(list.data)) return `"data" is not an array`;
  if (typeof list.has_more !== "boolean") return `"has_more" is not a boolean`;
  const bad = list.data.findIndex((r) => r === null || typeof r !== "object" || typeof (r as DataRecord).id !== "string");
  if (bad >= 0) return `item ${bad + 1} of "data" has no string id`;
  return null;
}

function permanent(message: string): Error & { retryable: false } {
  return Object.assign(new Error(message), { retryable: false as const });
}

/** One line naming connector, entity and cause; keeps what the engine needs to decide a retry. */

