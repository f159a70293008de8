import { z } from "zod";
import { BaseConnector, type RateLimitDefaults } from "../base/BaseConnector";
import { HttpError, connectionFailureMessage, entityFailure, type HttpClient } from "../base/http";
import { requestTarget, secret } from "../base/secret";
import type { ConnectionTestResult, DataRecord, EntityDeclaration, FetchState, ResumableFetchOptions } from "../base/types";

export const stripeConfigSchema = z.object({
  api_key: secret(z.string().min(1, "api_key is required").describe("Secret key (sk_live_… / sk_test_…) or a restricted key with read access")),
  base_url: requestTarget(z.string().url("base_url must be an absolute URL").optional().describe("API base URL; default https://api.stripe.com (set it for a proxy or a local fake)")),
});
export type StripeConfig = z.infer<typeof stripeConfigSchema>;

const NAME = "stripe";
const DEFAULT_BASE_URL = "https://api.stripe.com";
/** Stripe keeps events 30 days; a mark older than this (less a safety hour) cannot be resumed. */
const EVENT_RETENTION_SECONDS = 30 * 86_400 - 3_600;
/** The mark saved when the account had no event at all at backfill time. */
const NO_EVENT_MARK = "none";

/** The Events API's `types[]` filter, as indexed form parameters. */
function typesOf(types: string[]): Record<string, string> {
  return Object.fromEntries(types.map((t, i) => [`types[${i}]`, t]));
}

/** Objects kept current through the Events API, with the events that carry them. */
const EVENT_ENTITIES = {
  // Explicit types where a wildcard would also match other objects' events (customer.subscription.*,
  // charge.dispute.*): pages of only foreign events would read as empty chunks.
  customers: { object: "customer", events: typesOf(["customer.created", "customer.updated", "customer.deleted"]) },
  products: { object: "product", events: { type: "product.*" } },
  prices: { object: "price", events: { type: "price.*" } },
  subscriptions: { object: "subscription", events: { type: "customer.subscription.*" } },
  invoices: { object: "invoice", events: { type: "invoice.*" } },
  charges: {
    object: "charge",
    events: typesOf(["charge.succeeded", "charge.failed", "charge.pending", "charge.captured", "charge.expired", "charge.refunded", "charge.updated"]),
  },
  payment_intents: { object: "payment_intent", events: { type: "payment_intent.*" } },
  refunds: { object: "refund", events: typesOf(["refund.created", "refund.updated", "refund.failed", "charge.refund.updated"]) },
} as const satisfies Record<string, { object: string; events: Record<string, string> }>;
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
interface StripeEvent {
  id: string;
  type: string;
  created: number;
  data: { object: DataRecord & { object?: string; id?: string } };
}

type Phase =
  | { phase: "backfill"; after: string | null; anchor: string }
  | { phase: "events"; after: string; ceiling: { id: string; created: number } | null; lastCreated: number }
  | { phase: "created"; after: string | null };

/**
 * Stripe: backfills through list endpoints (`limit`, `starting_after`, `has_more`), then keeps
 * objects current through the Events API — updates upserted from `data.object`, `*.deleted`
 * events marked `_mako_deleted_at` — from the newest event seen (the saved mark). Balance
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
      description: `${what}. First run: the list endpoint. Then: the Events API from the last event seen — changes upserted from data.object, deletions marked _mako_deleted_at. A mark older than Stripe's 30-day event retention falls back to a backfill (run a full refresh then to mark deletions).`,
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
        const page = await this.list(entity, `/v1/${entity}`, { limit, starting_after: after ?? undefined, ...LIST_QUERY[entity] }, options.signal);
        await emit(page.data);
        if (page.data.length > 0) after = String(page.data[page.data.length - 1].id);
        if (!page.has_more || page.data.length === 0) {
          // The mark is the newest event before the backfill began: later runs replay from it.
          return { hasMore: false, totalProcessed: processed, metadata: { highWaterMark: phase.anchor } };
        }
      }
      return this.state({ ...phase, after }, processed, after);
    }

    // Events: walk forward from the mark (ending_before pages are the ones just newer), oldest first.
    const spec = EVENT_ENTITIES[entity as EventEntity];
    let { after, lastCreated } = phase;
    for (; calls < options.maxIterations; calls++) {
      const page = await this.list(entity, "/v1/events", { limit, ending_before: after, ...spec.events }, options.signal);
      const events = page.data as unknown as StripeEvent[];
      const records: DataRecord[] = [];
      for (let i = events.length - 1; i >= 0; i--) {
        const event = events[i];
        const object = event?.data?.object;
        if (!object || typeof object !== "object" || typeof event.id !== "string") {
          throw permanent(`event ${i + 1} of the page has no data.object`);
        }
        if (object.object !== spec.object) continue;
        records.push(isDeletion(event) ? { ...object, _mako_deleted_at: new Date(event.created * 1000).toISOString() } : object);
      }
      await emit(records);
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

  /** The first calls of a pass: decide between a backfill and replaying events from the mark. */
  private async startPass(entity: StripeEntity, options: ResumableFetchOptions): Promise<{ phase: Phase; calls: number }> {
    if ((CREATED_ENTITIES as readonly string[]).includes(entity)) return { phase: { phase: "created", after: null }, calls: 0 };
    const mark = typeof options.since === "string" && options.since.startsWith("evt_") ? options.since : undefined;
    const newest = await this.newestEvent(entity, options.signal);
    if (mark) {
      const fresh = await this.eventStillKept(entity, mark, options.signal);
      if (fresh) {
        return { phase: { phase: "events", after: mark, ceiling: newest, lastCreated: fresh.created }, calls: 2 };
      }
      options.onLog("warn", `${NAME}: ${entity}: the last event seen (${mark}) is older than Stripe's 30-day event retention: falling back to a backfill through the list endpoint (deletions since then are only caught by a full refresh)`);
    } else if (options.since === NO_EVENT_MARK) {
      options.onLog("info", `${NAME}: ${entity}: the account had no event at the last sync: backfilling again`);
    }
    return { phase: { phase: "backfill", after: null, anchor: newest?.id ?? NO_EVENT_MARK }, calls: mark ? 2 : 1 };
  }

  private async newestEvent(entity: StripeEntity, signal?: AbortSignal): Promise<{ id: string; created: number } | null> {
    const page = await this.list(entity, "/v1/events", { limit: 1 }, signal);
    const first = page.data[0] as unknown as StripeEvent | undefined;
    return first ? { id: first.id, created: first.created } : null;
  }

  /** The mark's event if Stripe still has it and it is inside the retention window. */
  private async eventStillKept(entity: StripeEntity, id: string, signal?: AbortSignal): Promise<StripeEvent | null> {
    try {
      const event = await this.api.get<StripeEvent>(`/v1/events/${encodeURIComponent(id)}`, undefined, { signal });
      if (typeof event?.created !== "number") throw permanent(`GET /v1/events/${id} returned no event`);
      return event.created >= Date.now() / 1000 - EVENT_RETENTION_SECONDS ? event : null;
    } catch (err) {
      if (err instanceof HttpError && err.status === 404) return null;
      throw err;
    }
  }

  private async list(entity: StripeEntity, path: string, query: Record<string, string | number | undefined>, signal?: AbortSignal): Promise<StripeList> {
    const body = await this.api.get<unknown>(path, query, { signal });
    const problem = listProblem(body);
    if (problem) throw permanent(`unexpected page from GET ${path}: ${problem}`);
    return body as StripeList;
  }

  private state(phase: Phase, processed: number, cursor: string | null): FetchState {
    return { hasMore: true, cursor, totalProcessed: processed, metadata: { phase } };
  }

  private baseUrl(): string {
    return (this.config.base_url ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
  }
}

/** `*.deleted` removes the object — except a subscription's, which is a cancellation. */
function isDeletion(event: StripeEvent): boolean {
  return event.type.endsWith(".deleted") && event.type !== "customer.subscription.deleted";
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

