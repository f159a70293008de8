// A local Stripe API following its public reference, nothing more:
// - auth: the secret key as Bearer, or as the Basic-auth username (docs.stripe.com/api/authentication).
// - lists: {object: "list", url, has_more, data}, newest first, paginated by `limit` (1-100),
//   `starting_after` and `ending_before` (docs.stripe.com/api/pagination), filtered by `created[...]`
//   and each list's own documented filters (docs.stripe.com/api/customers/list, …/products/list,
//   …/prices/list, …/subscriptions/list — canceled ones only with `status=all` —, …/invoices/list,
//   …/charges/list, …/payment_intents/list, …/refunds/list, …/balance_transactions/list).
//   Stripe refuses what it does not know: an unknown parameter is a 400 `parameter_unknown`
//   (docs.stripe.com/error-codes#parameter-unknown), and so is it here.
// - the Events API (docs.stripe.com/api/events/list, /api/events/retrieve): `type` or `types[]`,
//   `created[...]`, the list cursors; events go back 30 days only, on Stripe's clock.
// - Stripe's clock: every answer carries a `Date` header from the fake's own clock, which
//   `advanceClock` moves (objects' and events' `created` come from the same clock).
// - errors as {error: {type, message, code, param, doc_url}} (docs.stripe.com/api/errors); 429
//   {code: "rate_limit"} past the per-second limit (docs.stripe.com/rate-limits).
// - webhooks (docs.stripe.com/webhooks): each event is POSTed to every endpoint whose
//   `enabled_events` match (docs.stripe.com/api/webhook_endpoints/create), its body the event
//   object, with `Stripe-Signature: t=…,v1=…` signed afresh at each attempt — one v1 per secret
//   not yet expired after a roll, plus a `v0` test-mode signature receivers must ignore. Any
//   answer but a 2xx is retried with exponential backoff for up to three days (intervals are
//   not documented: see STRIPE_RETRY); events arrive in no particular order.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { FixedWindowLimiter, seededHash, seededPick, startFakeServer, type FakeRequest, type FakeResponse, type FakeServer } from "./fakeServer";
import { WebhookSender, type Delivery, type RetrySchedule } from "./webhookSender";

export const STRIPE_RESOURCES = [
  "customers",
  "products",
  "prices",
  "subscriptions",
  "invoices",
  "charges",
  "payment_intents",
  "refunds",
  "balance_transactions",
] as const;
export type StripeResource = (typeof STRIPE_RESOURCES)[number];

export type StripeObject = Record<string, unknown> & { id: string; object: string; created: number };

export interface StripeEvent {
  id: string;
  object: "event";
  api_version: string;
  created: number;
  data: { object: StripeObject; previous_attributes?: Record<string, unknown> };
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

export interface StripeFakeOptions {
  /** The secret key the fake accepts. Default a fixed test-mode key. */
  apiKey?: string;
  seed?: number;
  /** Seeded objects per resource (balance transactions follow charges). Default 12 each. */
  counts?: Partial<Record<Exclude<StripeResource, "balance_transactions">, number>>;
  /** Requests per second before 429. Default 100 (Stripe's live-mode limit); false: none. */
  requestsPerSecond?: number | false;
  /** The fake's clock at start, epoch seconds. Default: now. Seeded objects are in its past. */
  now?: number;
}

export interface StripeFake extends FakeServer {
  apiKey: string;
  /** Creates an object (and its `*.created` event); a charge also gets its balance transaction. */
  create(resource: Exclude<StripeResource, "balance_transactions">, fields?: Record<string, unknown>): StripeObject;
  /** Changes fields (and emits `*.updated` with previous_attributes). */
  update(resource: StripeResource, id: string, fields: Record<string, unknown>): StripeObject;
  /**
   * Deletes where Stripe can (customers, products, prices, draft invoices: `*.deleted`);
   * subscriptions are canceled (`customer.subscription.deleted`, still listed with status=all).
   */
  remove(resource: StripeResource, id: string): void;
  /** What the API lists now (subscriptions with status=all), newest first. */
  list(resource: StripeResource): StripeObject[];
  /** Ids deleted so far. */
  deletedIds(resource: StripeResource): string[];
  events(): StripeEvent[];
  /** Moves the clock on: events older than 30 days are gone, as in Stripe. */
  advanceClock(seconds: number): void;
  /** The fake's clock, epoch seconds (what its Date header says). */
  now(): number;
  /** Makes the key invalid from now on (a key rolled in the dashboard). */
  revokeKey(): void;
  /**
   * Registers a webhook endpoint (POST /v1/webhook_endpoints): events created from now on whose
   * type is in `enabledEvents` (default ["*"]) are delivered to `url`. The secret is shown once.
   */
  addWebhookEndpoint(options: { url: string; enabledEvents?: string[]; retry?: Partial<RetrySchedule> }): { id: string; secret: string };
  /**
   * Rolls an endpoint's signing secret (the Dashboard's "Roll secret"): the old one keeps
   * signing for `expireOldInSeconds` (0: expires now), each delivery carrying one v1 per secret.
   */
  rollWebhookSecret(id: string, options?: { expireOldInSeconds?: number }): string;
  /** Every delivery so far, with its attempts. */
  webhookDeliveries(): Delivery[];
  /** Resolves once no delivery is pending (delivered, or dropped after the retries). */
  webhooksSettled(): Promise<void>;
}

/**
 * Stripe retries "with an exponential back off" for up to three days in live mode (three
 * times over a few hours in a sandbox); the intervals are not documented. These are the
 * fake's defaults; tests pass shorter ones.
 */
export const STRIPE_RETRY: RetrySchedule = { firstRetryMs: 60_000, factor: 2, maxRetryMs: 12 * 3_600_000, giveUpAfterMs: 3 * 86_400_000, timeoutMs: 30_000 };

/** A `Stripe-Signature` value: `t=…`, one `v1=` per secret (docs.stripe.com/webhooks#verify-manually). */
export function stripeSignatureHeader(t: number, body: string, secrets: string[], testMode = true): string {
  const v1 = secrets.map((secret) => `v1=${createHmac("sha256", secret).update(`${t}.${body}`).digest("hex")}`);
  // Test-mode events also carry a signature of a fake `v0` scheme (not verifiable: ignore it).
  const v0 = testMode ? [`v0=${createHmac("sha256", randomBytes(16)).update(`${t}.${body}`).digest("hex")}`] : [];
  return [`t=${t}`, ...v1, ...v0].join(",");
}

interface WebhookEndpoint {
  id: string;
  url: string;
  enabledEvents: string[];
  secrets: { secret: string; expiresAt: number | null }[];
  retry: RetrySchedule;
}

const DAY = 86_400;
const RETENTION = 30 * DAY;
const API_VERSION = "2024-06-20";
const PREFIX: Record<StripeResource, string> = {
  customers: "cus",
  products: "prod",
  prices: "price",
  subscriptions: "sub",
  invoices: "in",
  charges: "ch",
  payment_intents: "pi",
  refunds: "re",
  balance_transactions: "txn",
};
const OBJECT: Record<StripeResource, string> = {
  customers: "customer",
  products: "product",
  prices: "price",
  subscriptions: "subscription",
  invoices: "invoice",
  charges: "charge",
  payment_intents: "payment_intent",
  refunds: "refund",
  balance_transactions: "balance_transaction",
};
/** Event type prefix per resource; balance transactions have no events. */
const EVENT_PREFIX: Partial<Record<StripeResource, string>> = {
  customers: "customer",
  products: "product",
  prices: "price",
  subscriptions: "customer.subscription",
  invoices: "invoice",
  charges: "charge",
  payment_intents: "payment_intent",
  refunds: "refund",
};
const CREATED_EVENT: Partial<Record<StripeResource, string>> = { charges: "charge.succeeded" };
const DELETABLE = new Set<StripeResource>(["customers", "products", "prices", "invoices"]);
/** Every list's pagination and `created` filter (docs.stripe.com/api/pagination, each list's page). */
const LIST_PARAMS = new Set(["limit", "starting_after", "ending_before", "created", "created[gt]", "created[gte]", "created[lt]", "created[lte]"]);
/** Each list's own filters, as its page documents (docs.stripe.com/api/<resource>/list). */
const EXTRA_PARAMS: Partial<Record<StripeResource | "events", string[]>> = {
  subscriptions: ["status", "customer", "price"],
  invoices: ["status", "customer", "subscription"],
  charges: ["customer", "payment_intent"],
  payment_intents: ["customer"],
  refunds: ["charge", "payment_intent"],
  prices: ["active", "product", "type"],
  products: ["active"],
  customers: ["email"],
  balance_transactions: ["type", "source", "payout", "currency"],
  events: ["type", "delivery_success"],
};

const NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Ken Thompson", "Radia Perlman", "Frances Allen"];
const PRODUCTS = ["Starter", "Team", "Scale", "Enterprise", "Add-on seats", "Support"];
const CURRENCIES = ["usd", "eur", "gbp"];

interface Stored {
  obj: StripeObject;
  seq: number;
}

export async function startStripeFake(options: StripeFakeOptions = {}): Promise<StripeFake> {
  const seed = options.seed ?? 1;
  let apiKey = options.apiKey ?? "sk_test_51MakoFakeKey0000000000000000";
  let revoked = false;
  let clock = options.now ?? Math.floor(Date.now() / 1000);
  let seq = 0;
  const store = new Map<StripeResource, Stored[]>(STRIPE_RESOURCES.map((r) => [r, []]));
  const deleted = new Map<StripeResource, Map<string, StripeObject>>(STRIPE_RESOURCES.map((r) => [r, new Map()]));
  const events: { event: StripeEvent; seq: number }[] = [];
  const limiter = options.requestsPerSecond === false ? null : new FixedWindowLimiter({ limit: options.requestsPerSecond ?? 100, windowMs: 1000 });
  const endpoints: WebhookEndpoint[] = [];
  const sender = new WebhookSender();
  /** Seconds advanceClock added: webhook signatures are timed on the wall clock plus these. */
  let advanced = 0;
  const signingTime = () => Math.floor(Date.now() / 1000) + advanced;

  const nextId = (prefix: string) => {
    seq++;
    const h = seededHash(seq, seed, 7).toString(36).padStart(7, "0");
    return `${prefix}_${seq.toString(36).padStart(5, "0")}${h}`;
  };

  const find = (resource: StripeResource, id: string) => store.get(resource)!.find((s) => s.obj.id === id);

  const emit = (type: string, object: StripeObject, previous?: Record<string, unknown>) => {
    const event: StripeEvent = {
      id: nextId("evt"),
      object: "event",
      api_version: API_VERSION,
      created: clock,
      data: previous ? { object: structuredClone(object), previous_attributes: previous } : { object: structuredClone(object) },
      livemode: false,
      pending_webhooks: 0,
      request: { id: `req_${seq}`, idempotency_key: null },
      type,
    };
    const targets = endpoints.filter((e) => e.enabledEvents.includes("*") || e.enabledEvents.includes(type));
    event.pending_webhooks = targets.length;
    events.push({ event, seq });
    for (const endpoint of targets) deliver(endpoint, event);
  };

  const deliver = (endpoint: WebhookEndpoint, event: StripeEvent) => {
    // Stripe's webhook bodies are the event object, pretty-printed: only the raw bytes verify.
    const body = JSON.stringify(event, null, 2);
    sender.send({
      eventId: event.id,
      endpoint: endpoint.id,
      url: endpoint.url,
      body,
      schedule: endpoint.retry,
      headers: () => {
        const t = signingTime();
        endpoint.secrets = endpoint.secrets.filter((s) => s.expiresAt === null || s.expiresAt > t);
        return {
          "content-type": "application/json; charset=utf-8",
          "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
          "stripe-signature": stripeSignatureHeader(t, body, endpoint.secrets.map((s) => s.secret)),
        };
      },
    });
  };

  const pickId = (resource: StripeResource, i: number) => {
    const list = store.get(resource)!;
    return list.length === 0 ? null : list[seededHash(i, seed, 11) % list.length].obj.id;
  };

  const build = (resource: StripeResource, i: number, fields: Record<string, unknown>): StripeObject => {
    const base = { id: nextId(PREFIX[resource]), object: OBJECT[resource], created: clock, livemode: false };
    const amount = 500 + (seededHash(i, seed, 3) % 20_000);
    const currency = seededPick(CURRENCIES, i, seed, 4);
    switch (resource) {
      case "customers": {
        const name = seededPick(NAMES, i, seed, 1);
        return { ...base, name, email: `${name.split(" ")[0].toLowerCase()}.${i}@example.com`, description: null, balance: 0, currency, delinquent: false, metadata: {}, ...fields };
      }
      case "products":
        return { ...base, name: `${seededPick(PRODUCTS, i, seed, 2)} ${i}`, active: true, description: null, metadata: {}, updated: clock, ...fields };
      case "prices":
        return { ...base, product: pickId("products", i), unit_amount: amount, currency, active: true, type: "recurring", recurring: { interval: "month", interval_count: 1 }, metadata: {}, ...fields };
      case "subscriptions":
        return {
          ...base,
          customer: pickId("customers", i),
          status: "active",
          items: { object: "list", data: [{ id: nextId("si"), object: "subscription_item", price: pickId("prices", i), quantity: 1 + (i % 3) }], has_more: false },
          current_period_start: clock,
          current_period_end: clock + 30 * DAY,
          canceled_at: null,
          metadata: {},
          ...fields,
        };
      case "invoices":
        return { ...base, customer: pickId("customers", i), subscription: pickId("subscriptions", i), status: "paid", amount_due: amount, amount_paid: amount, currency, metadata: {}, ...fields };
      case "payment_intents":
        return { ...base, amount, currency, customer: pickId("customers", i), status: "succeeded", metadata: {}, ...fields };
      case "charges":
        return { ...base, amount, currency, customer: pickId("customers", i), payment_intent: pickId("payment_intents", i), paid: true, refunded: false, status: "succeeded", balance_transaction: null, metadata: {}, ...fields };
      case "refunds":
        return { ...base, amount: Math.floor(amount / 4), currency, charge: pickId("charges", i), status: "succeeded", reason: null, metadata: {}, ...fields };
      case "balance_transactions":
        return { ...base, amount, currency, fee: Math.floor(amount * 0.029) + 30, net: 0, type: "charge", source: null, status: "available", ...fields };
    }
  };

  const insert = (resource: StripeResource, obj: StripeObject) => {
    store.get(resource)!.push({ obj, seq });
  };

  const create = (resource: Exclude<StripeResource, "balance_transactions">, fields: Record<string, unknown> = {}, i = seq + 1): StripeObject => {
    clock++;
    const obj = build(resource, i, fields);
    if (resource === "charges") {
      const txn = build("balance_transactions", i, { amount: obj.amount, currency: obj.currency, source: obj.id });
      txn.net = (txn.amount as number) - (txn.fee as number);
      insert("balance_transactions", txn);
      obj.balance_transaction = txn.id;
    }
    insert(resource, obj);
    emit(CREATED_EVENT[resource] ?? `${EVENT_PREFIX[resource]}.created`, obj);
    return structuredClone(obj);
  };

  // Seed: objects created one minute apart over the past hours, each with its created event.
  const counts = options.counts ?? {};
  const order: Exclude<StripeResource, "balance_transactions">[] = ["customers", "products", "prices", "payment_intents", "charges", "refunds", "subscriptions", "invoices"];
  const total = order.reduce((n, r) => n + (counts[r] ?? 12), 0);
  const start = clock;
  clock -= total * 60;
  let n = 0;
  for (const resource of order) {
    for (let i = 1; i <= (counts[resource] ?? 12); i++) {
      clock = start - (total - n++) * 60;
      create(resource, {}, i);
    }
  }
  clock = start;

  const visible = (resource: StripeResource, params: URLSearchParams) =>
    [...store.get(resource)!]
      .reverse()
      .map((s) => s.obj)
      .filter((o) => resource !== "subscriptions" || params.get("status") === "all" || o.status !== "canceled");

  const liveEvents = () => {
    // Events past the retention window are gone, as in Stripe.
    while (events.length > 0 && events[0].event.created < clock - RETENTION) events.shift();
    return [...events].reverse().map((e) => e.event);
  };

  const server = await startFakeServer((req) => route(req));

  function route(req: FakeRequest): FakeResponse {
    // Stripe's clock, not the caller's: a client that needs "now" reads it here.
    const headers = { date: new Date(clock * 1000).toUTCString(), "request-id": `req_${randomUUID().slice(0, 14)}`, "stripe-version": API_VERSION };
    const auth = authenticate(req.headers.authorization);
    if (auth) return { status: 401, body: stripeError("invalid_request_error", auth), headers };
    if (limiter && !limiter.take().allowed) {
      return {
        status: 429,
        headers: { ...headers, "stripe-should-retry": "true" },
        body: stripeError("invalid_request_error", "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.", "rate_limit"),
      };
    }
    if (req.method !== "GET") return notFound(req, headers);
    const parts = req.url.pathname.replace(/\/+$/, "").split("/").filter(Boolean);
    if (parts[0] !== "v1" || parts.length < 2 || parts.length > 3) return notFound(req, headers);
    const name = parts[1];
    if (name === "balance" && parts.length === 2) {
      return { status: 200, headers, body: { object: "balance", livemode: false, available: [{ amount: 0, currency: "usd" }], pending: [] } };
    }
    if (name === "events") {
      if (parts.length === 3) {
        const event = liveEvents().find((e) => e.id === parts[2]);
        if (!event) return { status: 404, headers, body: stripeError("invalid_request_error", `No such event: '${parts[2]}'`, "resource_missing", "id") };
        return { status: 200, headers, body: event };
      }
      const live = liveEvents();
      const items = filterEvents(live, req.url.searchParams);
      if ("error" in items) return { status: 400, headers, body: items };
      return paginate(items, req, "events", headers, live);
    }
    if (!(STRIPE_RESOURCES as readonly string[]).includes(name)) return notFound(req, headers);
    const resource = name as StripeResource;
    if (parts.length === 3) {
      const found = find(resource, parts[2])?.obj;
      if (found) return { status: 200, headers, body: found };
      if (deleted.get(resource)!.has(parts[2])) return { status: 200, headers, body: { id: parts[2], object: OBJECT[resource], deleted: true } };
      return { status: 404, headers, body: stripeError("invalid_request_error", `No such ${OBJECT[resource]}: '${parts[2]}'`, "resource_missing", "id") };
    }
    const params = req.url.searchParams;
    for (const key of params.keys()) {
      if (!LIST_PARAMS.has(key) && !(EXTRA_PARAMS[resource] ?? []).includes(key) && !key.startsWith("expand")) {
        return { status: 400, headers, body: stripeError("invalid_request_error", `Received unknown parameter: ${key}`, "parameter_unknown", key) };
      }
    }
    return paginate(visible(resource, params), req, resource, headers, visible(resource, new URLSearchParams({ status: "all" })));
  }

  function authenticate(header: string | undefined): string | null {
    if (!header) {
      return "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').";
    }
    let key = "";
    if (header.startsWith("Bearer ")) key = header.slice(7).trim();
    else if (header.startsWith("Basic ")) key = Buffer.from(header.slice(6), "base64").toString("utf8").split(":")[0];
    if (key === apiKey && !revoked) return null;
    const masked = key.length > 8 ? `${key.slice(0, 8)}${"*".repeat(Math.max(0, key.length - 12))}${key.slice(-4)}` : key;
    return revoked && key === apiKey ? `Expired API Key provided: ${masked}` : `Invalid API Key provided: ${masked}`;
  }

  function filterEvents(list: StripeEvent[], params: URLSearchParams): StripeEvent[] | { error: unknown } {
    const types: string[] = [];
    for (const [key, value] of params) {
      if (/^types\[\d*\]$/.test(key)) types.push(value);
      else if (!LIST_PARAMS.has(key) && !EXTRA_PARAMS.events!.includes(key) && !key.startsWith("expand")) {
        return stripeError("invalid_request_error", `Received unknown parameter: ${key}`, "parameter_unknown", key);
      }
    }
    const type = params.get("type");
    if (type && types.length) return stripeError("invalid_request_error", "You may only specify one of these parameters: type, types.", "parameter_invalid");
    if (types.length > 20) return stripeError("invalid_request_error", "types may contain at most 20 entries", "parameter_invalid", "types");
    const matches = (t: string, pattern: string) => (pattern.endsWith(".*") ? t.startsWith(pattern.slice(0, -1)) : t === pattern);
    if (type) return list.filter((e) => matches(e.type, type));
    if (types.length) return list.filter((e) => types.some((p) => matches(e.type, p)));
    return list;
  }

  /**
   * One page of `all` (newest first). A cursor is placed by its position among every object of
   * the endpoint (`universe`), so it works whether or not it matches the filters, as in Stripe.
   */
  function paginate(all: { id: string; created: number }[], req: FakeRequest, name: string, headers: Record<string, string>, universe = all): FakeResponse {
    const params = req.url.searchParams;
    const limitText = params.get("limit") ?? "10";
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      return { status: 400, headers, body: stripeError("invalid_request_error", "This value must be greater than or equal to 1 and less than or equal to 100.", "parameter_invalid_integer", "limit") };
    }
    const created = createdFilter(params);
    if (typeof created === "string") return { status: 400, headers, body: stripeError("invalid_request_error", created, "parameter_invalid_integer", "created") };
    const position = new Map(universe.map((o, i) => [o.id, i]));
    const list = all.filter((o) => created(o.created));
    const after = params.get("starting_after");
    const before = params.get("ending_before");
    if (after && before) return { status: 400, headers, body: stripeError("invalid_request_error", "You may only specify one of these parameters: ending_before, starting_after.", "parameter_invalid") };
    let page: typeof list;
    let hasMore: boolean;
    if (before) {
      const at = position.get(before);
      if (at === undefined) return cursorMissing(before, "ending_before", name, headers);
      const newer = list.filter((o) => position.get(o.id)! < at);
      page = newer.slice(Math.max(0, newer.length - limit));
      hasMore = newer.length > limit;
    } else {
      const at = after ? position.get(after) : -1;
      if (at === undefined) return cursorMissing(after!, "starting_after", name, headers);
      const older = list.filter((o) => position.get(o.id)! > at);
      page = older.slice(0, limit);
      hasMore = older.length > limit;
    }
    return { status: 200, headers, body: { object: "list", url: `/v1/${name}`, has_more: hasMore, data: page } };
  }

  const fake: StripeFake = {
    ...server,
    get apiKey() {
      return apiKey;
    },
    create: (resource, fields) => create(resource, fields),
    update(resource, id, fields) {
      const stored = find(resource, id);
      if (!stored) throw new Error(`stripe fake: no ${resource} ${id}`);
      clock++;
      const previous: Record<string, unknown> = {};
      for (const key of Object.keys(fields)) previous[key] = stored.obj[key] ?? null;
      Object.assign(stored.obj, fields);
      if (resource === "products") stored.obj.updated = clock;
      const prefix = EVENT_PREFIX[resource];
      if (prefix) emit(`${prefix}.updated`, stored.obj, previous);
      return structuredClone(stored.obj);
    },
    remove(resource, id) {
      const list = store.get(resource)!;
      const at = list.findIndex((s) => s.obj.id === id);
      if (at < 0) throw new Error(`stripe fake: no ${resource} ${id}`);
      clock++;
      const obj = list[at].obj;
      if (resource === "subscriptions") {
        // Stripe cancels, it never deletes, a subscription: the event says "deleted" nonetheless.
        Object.assign(obj, { status: "canceled", canceled_at: clock, ended_at: clock });
        emit("customer.subscription.deleted", obj);
        return;
      }
      if (!DELETABLE.has(resource)) throw new Error(`stripe fake: Stripe cannot delete ${resource}`);
      if (resource === "invoices" && obj.status !== "draft") throw new Error("stripe fake: only draft invoices can be deleted");
      list.splice(at, 1);
      deleted.get(resource)!.set(id, obj);
      emit(`${EVENT_PREFIX[resource]}.deleted`, obj);
    },
    list: (resource) => structuredClone(visible(resource, new URLSearchParams({ status: "all" }))),
    deletedIds: (resource) => [...deleted.get(resource)!.keys()],
    events: () => structuredClone(liveEvents()),
    advanceClock(seconds) {
      clock += seconds;
      advanced += seconds;
    },
    now: () => clock,
    revokeKey() {
      revoked = true;
    },
    addWebhookEndpoint({ url, enabledEvents = ["*"], retry }) {
      const secret = `whsec_${randomBytes(24).toString("base64url")}`;
      const id = nextId("we");
      endpoints.push({ id, url, enabledEvents, secrets: [{ secret, expiresAt: null }], retry: { ...STRIPE_RETRY, ...retry } });
      return { id, secret };
    },
    rollWebhookSecret(id, { expireOldInSeconds = 0 } = {}) {
      const endpoint = endpoints.find((e) => e.id === id);
      if (!endpoint) throw new Error(`stripe fake: no webhook endpoint ${id}`);
      const expiresAt = signingTime() + expireOldInSeconds;
      for (const s of endpoint.secrets) if (s.expiresAt === null || s.expiresAt > expiresAt) s.expiresAt = expiresAt;
      const secret = `whsec_${randomBytes(24).toString("base64url")}`;
      endpoint.secrets.push({ secret, expiresAt: null });
      return secret;
    },
    webhookDeliveries: () => sender.deliveries,
    webhooksSettled: () => sender.settled(),
    close: async () => {
      sender.close();
      await server.close();
    },
  };
  return fake;
}

function stripeError(type: string, message: string, code?: string, param?: string) {
  return { error: { type, message, ...(code ? { code, doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, "-")}` } : {}), ...(param ? { param } : {}) } };
}

function notFound(req: FakeRequest, headers: Record<string, string>): FakeResponse {
  return {
    status: 404,
    headers,
    body: stripeError("invalid_request_error", `Unrecognized request URL (${req.method}: ${req.url.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`),
  };
}

function cursorMissing(id: string, param: string, name: string, headers: Record<string, string>): FakeResponse {
  const what = name === "events" ? "event" : OBJECT[name as StripeResource] ?? "object";
  return { status: 400, headers, body: stripeError("invalid_request_error", `No such ${what}: '${id}'`, "resource_missing", param) };
}

/** `created=T` or `created[gt|gte|lt|lte]=T` (epoch seconds) as a predicate, or an error message. */
function createdFilter(params: URLSearchParams): ((t: number) => boolean) | string {
  const tests: ((t: number) => boolean)[] = [];
  for (const [key, value] of params) {
    const m = /^created(?:\[(gt|gte|lt|lte)\])?$/.exec(key);
    if (!m) continue;
    const v = Number(value);
    if (!Number.isInteger(v)) return `Invalid integer: ${value}`;
    const op = m[1];
    tests.push(op === "gt" ? (t) => t > v : op === "gte" ? (t) => t >= v : op === "lt" ? (t) => t < v : op === "lte" ? (t) => t <= v : (t) => t === v);
  }
  return (t) => tests.every((f) => f(t));
}
