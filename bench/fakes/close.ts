// A local Close CRM API (https://api.close.com/api/v1/) following developer.close.com, nothing more:
// - auth: the API key as the Basic-auth username (/api/overview/authentication-with-api-keys);
//   401 {error: "…"} otherwise.
// - lists answer {data, has_more}, paginated by `_skip` / `_limit` (at most 100, and a maximum
//   `_skip`: 400 past either) (/api/overview/pagination). Each list honours the parameters its page
//   documents and IGNORES any other, as Close does with a parameter it does not know (see
//   LIST_PARAMS below, one page cited per endpoint). Without a documented order, lists come
//   newest first.
// - the Advanced Filtering API, POST /data/search/ (closeSearch.ts).
// - the event log, GET /event/ (/api/resources/events, /api/resources/events/list): newest first,
//   `_cursor` / `_limit` (at most 50) pagination with `cursor_next`, the documented filters in
//   the documented combinations only (400 otherwise), 30 days of history on Close's clock; a
//   deletion's event has `data: null`.
// - Close's clock: every answer has a `Date` header from the fake's own clock, which
//   `advanceClock` moves; `date_created` / `date_updated` and events come from the same clock.
// - the `RateLimit: limit=…, remaining=…, reset=…` header and a 429 whose body says `rate_reset`
//   (/api/overview/rate-limits); errors as {error: "…"}.
// - webhooks (/api/resources/webhooks): a subscription (POST /api/v1/webhook/, answered with its
//   `signature_key`) gets each event of the log matching its {object_type, action} pairs, POSTed
//   as {event, subscription_id}, signed at each attempt with `close-sig-timestamp` (Close's clock)
//   and `close-sig-hash` (hex HMAC-SHA256 of the timestamp and body concatenated, keyed with the
//   hex-decoded signature_key). `updated` and `deleted` events wait a consolidation delay, and
//   one change after another of the same object in that window goes out as one delivery (the
//   last event; the log keeps them all). Failed deliveries are retried, backing off
//   exponentially up to every 20 minutes, for 72 hours; ordering is not guaranteed.
import { createHmac, randomBytes } from "node:crypto";
import { compareTimes, searchObjects } from "./closeSearch";
import { FixedWindowLimiter, seededHash, seededPick, startFakeServer, type FakeRequest, type FakeResponse, type FakeServer } from "./fakeServer";
import { WebhookSender, type Delivery, type RetrySchedule } from "./webhookSender";

export const CLOSE_ACTIVITY_TYPES = ["Call", "Email", "Note", "Meeting", "SMS"] as const;
export type CloseActivityType = (typeof CLOSE_ACTIVITY_TYPES)[number];

/** Object kinds as the event log names them. */
export type CloseKind =
  | "lead"
  | "contact"
  | "opportunity"
  | "user"
  | "custom_field.lead"
  | "custom_field.contact"
  | "custom_field.opportunity"
  | `activity.${Lowercase<CloseActivityType>}`;

export type CloseObject = Record<string, unknown> & { id: string; date_created: string; date_updated: string };

export interface CloseEvent {
  id: string;
  object_type: string;
  object_id: string;
  action: "created" | "updated" | "deleted";
  date_created: string;
  date_updated: string;
  lead_id: string | null;
  user_id: string | null;
  organization_id: string;
  request_id: string;
  api_key_id: string | null;
  changed_fields: string[];
  data: CloseObject | null;
  previous_data: Record<string, unknown> | null;
  meta: Record<string, unknown>;
}

export interface CloseFakeOptions {
  apiKey?: string;
  seed?: number;
  /** Seeded leads; contacts, opportunities and activities follow from it. Default 10. */
  leads?: number;
  /** Requests per window before 429. Default 100 per 1 s window; false: none. */
  rateLimit?: { limit: number; windowSeconds: number } | false;
  /** Largest `_skip` the fake accepts (Close caps deep pagination). Default 1000. */
  maxSkip?: number;
}

export interface CloseFake extends FakeServer {
  apiKey: string;
  create(kind: CloseKind, fields?: Record<string, unknown>): CloseObject;
  update(kind: CloseKind, id: string, fields: Record<string, unknown>): CloseObject;
  remove(kind: CloseKind, id: string): void;
  /** Live objects of a kind, as the API has them. */
  list(kind: CloseKind): CloseObject[];
  deletedIds(kind: CloseKind): string[];
  events(): CloseEvent[];
  /** Moves Close's clock on (the event log forgets what is older than 30 days). */
  advanceClock(seconds: number): void;
  /** Close's clock, epoch milliseconds (what its Date header says, to the second). */
  now(): number;
  revokeKey(): void;
  /**
   * Creates a webhook subscription (POST /api/v1/webhook/): events logged from now on matching
   * one of `events` are delivered to `url`. `consolidationMs` is the wait before an update or a
   * deletion goes out (Close does not document its length).
   */
  subscribeWebhook(options: {
    url: string;
    events: { object_type: string; action: CloseEvent["action"] }[];
    retry?: Partial<RetrySchedule>;
    consolidationMs?: number;
  }): { id: string; signature_key: string };
  webhookDeliveries(): Delivery[];
  /** Resolves once no delivery is pending or waiting out its consolidation. */
  webhooksSettled(): Promise<void>;
}

/**
 * "Failed deliveries are retried with a retry interval that exponentially backs off up to every
 * 20 minutes. They will be retried up to 72 hours before being dropped." (/api/resources/webhooks).
 * The first interval and the timeout are not documented.
 */
export const CLOSE_RETRY: RetrySchedule = { firstRetryMs: 10_000, factor: 2, maxRetryMs: 20 * 60_000, giveUpAfterMs: 72 * 3_600_000, timeoutMs: 30_000 };
const CLOSE_CONSOLIDATION_MS = 1_000;

/** The `close-sig-hash` of a body signed at `timestamp` (epoch seconds) with a hex signature_key. */
export function closeSignature(signatureKey: string, timestamp: number, body: string): string {
  return createHmac("sha256", Buffer.from(signatureKey, "hex")).update(`${timestamp}${body}`).digest("hex");
}

interface Subscription {
  id: string;
  url: string;
  events: { object_type: string; action: string }[];
  signatureKey: string;
  retry: RetrySchedule;
  consolidationMs: number;
}

const ORG = "orga_makofake";
const RETENTION_MS = 30 * 86_400_000;
const FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Frances"];
const COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka"];
const STATUSES = [
  { id: "stat_potential", label: "Potential" },
  { id: "stat_qualified", label: "Qualified" },
  { id: "stat_customer", label: "Customer" },
];
const OPP_STATUSES = [
  { id: "stat_active", label: "Active", type: "active" },
  { id: "stat_won", label: "Won", type: "won" },
  { id: "stat_lost", label: "Lost", type: "lost" },
];
const PREFIX: Record<string, string> = { lead: "lead", contact: "cont", opportunity: "oppo", user: "user", custom_field: "cf", activity: "acti" };

/** Close's timestamp form: microseconds and an explicit UTC offset. */
function closeTime(ms: number, micros: number): string {
  return new Date(ms).toISOString().replace("Z", `${String(micros % 1000).padStart(3, "0")}+00:00`);
}

export async function startCloseFake(options: CloseFakeOptions = {}): Promise<CloseFake> {
  const seed = options.seed ?? 1;
  const apiKey = options.apiKey ?? "api_4MakoFakeCloseKey.000000000000000000";
  const maxSkip = options.maxSkip ?? 1000;
  const rate = options.rateLimit === false ? null : options.rateLimit ?? { limit: 100, windowSeconds: 1 };
  const limiter = rate ? new FixedWindowLimiter({ limit: rate.limit, windowMs: rate.windowSeconds * 1000 }) : null;
  let revoked = false;
  let seq = 0;
  let offsetMs = 0;
  /** Close's clock: this machine's, moved by advanceClock. */
  const wallMs = () => Date.now() + offsetMs;
  // The seeded account is an hour old: a sync that starts now begins after all of it.
  let clockMs = wallMs() - 3_600_000;
  let seeding = true;
  const kinds = new Map<string, CloseObject[]>();
  const deleted = new Map<string, string[]>();
  const events: CloseEvent[] = [];

  const bucket = (kind: string) => {
    if (!kinds.has(kind)) kinds.set(kind, []);
    return kinds.get(kind)!;
  };
  const now = () => {
    // A strictly increasing clock: two changes never share a date_updated by accident.
    clockMs = seeding ? clockMs + 1 : Math.max(clockMs + 1, wallMs());
    seq++;
    return closeTime(clockMs, seq);
  };
  const nextId = (prefix: string) => {
    const n = ++seq;
    return `${prefix}_${n.toString(36).padStart(4, "0")}${seededHash(n, seed, 5).toString(36).padStart(7, "0")}`;
  };
  const pick = (kind: string, i: number) => {
    const list = bucket(kind);
    return list.length ? list[seededHash(i, seed, 9) % list.length] : undefined;
  };

  const leadCustomFields = () => bucket("custom_field.lead");

  const build = (kind: CloseKind, i: number, fields: Record<string, unknown>): CloseObject => {
    const stamp = now();
    const userId = (pick("user", i)?.id as string | undefined) ?? null;
    const base = { date_created: stamp, date_updated: stamp, organization_id: ORG, created_by: userId, updated_by: userId };
    const first = seededPick(FIRST, i, seed, 1);
    const company = seededPick(COMPANIES, i, seed, 2);
    if (kind === "user") {
      return { id: nextId("user"), first_name: first, last_name: `User${i}`, email: `${first.toLowerCase()}.${i}@close.example`, image: null, date_created: stamp, date_updated: stamp, ...fields };
    }
    if (kind.startsWith("custom_field.")) {
      const types = ["text", "number", "choices", "date"];
      const type = seededPick(types, i, seed, 3);
      return {
        id: nextId("cf"),
        name: `${kind.split(".")[1]} field ${i}`,
        type,
        choices: type === "choices" ? ["gold", "silver", "bronze"] : null,
        accepts_multiple_values: false,
        editable_with_roles: [],
        description: null,
        ...base,
        ...fields,
      };
    }
    if (kind === "lead") {
      const status = seededPick(STATUSES, i, seed, 4);
      const custom: Record<string, unknown> = {};
      for (const cf of leadCustomFields()) {
        custom[`custom.${cf.id}`] = cf.type === "number" ? seededHash(i, seed, 6) % 1000 : cf.type === "choices" ? "gold" : `${company} ${cf.name}`;
      }
      return { id: nextId("lead"), name: `${company} ${i}`, display_name: `${company} ${i}`, status_id: status.id, status_label: status.label, description: "", url: `https://${company.toLowerCase()}.example`, ...custom, ...base, ...fields };
    }
    const lead = pick("lead", i);
    const leadId = (fields.lead_id as string | undefined) ?? (lead?.id as string | undefined) ?? null;
    if (kind === "contact") {
      return {
        id: nextId("cont"),
        lead_id: leadId,
        name: `${first} ${company}`,
        title: seededPick(["CEO", "CTO", "Buyer", "Engineer"], i, seed, 7),
        emails: [{ email: `${first.toLowerCase()}@${company.toLowerCase()}.example`, type: "office" }],
        phones: [{ phone: `+1555${String(1000 + i).slice(-4)}000`, type: "office" }],
        ...base,
        ...fields,
      };
    }
    if (kind === "opportunity") {
      const status = seededPick(OPP_STATUSES, i, seed, 8);
      return {
        id: nextId("oppo"),
        lead_id: leadId,
        status_id: status.id,
        status_label: status.label,
        status_type: status.type,
        value: 1000 * (1 + (seededHash(i, seed, 9) % 50)),
        value_currency: "USD",
        value_period: "one_time",
        confidence: seededHash(i, seed, 10) % 100,
        note: "",
        user_id: userId,
        date_won: status.type === "won" ? stamp.slice(0, 10) : null,
        ...base,
        ...fields,
      };
    }
    const type = kind.split(".")[1];
    const _type = CLOSE_ACTIVITY_TYPES.find((t) => t.toLowerCase() === type)!;
    const common = { id: nextId("acti"), _type, lead_id: leadId, contact_id: (pick("contact", i)?.id as string | undefined) ?? null, user_id: userId, activity_at: stamp, ...base };
    const direction = seededPick(["inbound", "outbound"], i, seed, 11);
    switch (_type) {
      case "Call":
        return { ...common, direction, duration: seededHash(i, seed, 12) % 900, phone: "+15550001111", disposition: "answered", note: `call ${i}`, recording_url: null, ...fields };
      case "Email":
        return { ...common, direction, subject: `Re: proposal ${i}`, status: "sent", body_text: `Hello ${first}`, sender: "sales@mako.example", to: [`${first.toLowerCase()}@${company.toLowerCase()}.example`], ...fields };
      case "Note":
        return { ...common, note: `Spoke with ${first} about renewal ${i}`, ...fields };
      case "Meeting":
        return { ...common, title: `Demo ${i}`, starts_at: stamp, ends_at: stamp, duration: 1800, attendees: [{ email: `${first.toLowerCase()}@${company.toLowerCase()}.example` }], ...fields };
      case "SMS":
        return { ...common, direction, text: `See you at ${i}`, local_phone: "+15550001111", remote_phone: "+15550002222", status: "sent", ...fields };
    }
  };

  const subscriptions: Subscription[] = [];
  const sender = new WebhookSender();
  /** Updates and deletions waiting out the consolidation delay, by subscription and object. */
  const consolidating = new Map<string, { event: CloseEvent; done: Promise<void> }>();

  const deliver = (sub: Subscription, event: CloseEvent) => {
    const body = JSON.stringify({ event, subscription_id: sub.id });
    sender.send({
      eventId: event.id,
      endpoint: sub.id,
      url: sub.url,
      body,
      schedule: sub.retry,
      headers: () => {
        const timestamp = Math.floor(Math.max(wallMs(), clockMs) / 1000);
        return { "content-type": "application/json", "close-sig-timestamp": String(timestamp), "close-sig-hash": closeSignature(sub.signatureKey, timestamp, body) };
      },
    });
  };

  const publish = (event: CloseEvent) => {
    for (const sub of subscriptions) {
      if (!sub.events.some((e) => e.object_type === event.object_type && e.action === event.action)) continue;
      if (event.action === "created" || sub.consolidationMs <= 0) {
        deliver(sub, event);
        continue;
      }
      const key = `${sub.id} ${event.object_id} ${event.action}`;
      const waiting = consolidating.get(key);
      if (waiting) {
        waiting.event = event;
        continue;
      }
      const entry = { event, done: Promise.resolve() };
      entry.done = new Promise<void>((resolve) =>
        setTimeout(() => {
          consolidating.delete(key);
          deliver(sub, entry.event);
          resolve();
        }, sub.consolidationMs),
      );
      consolidating.set(key, entry);
    }
  };

  const emit = (kind: string, obj: CloseObject, action: CloseEvent["action"], previous: Record<string, unknown> | null, stamp: string) => {
    const event: CloseEvent = {
      id: nextId("ev"),
      object_type: kind,
      object_id: obj.id,
      action,
      date_created: stamp,
      date_updated: stamp,
      lead_id: kind === "lead" ? obj.id : ((obj.lead_id as string | undefined) ?? null),
      user_id: null,
      organization_id: ORG,
      request_id: `req_${seq}`,
      api_key_id: null,
      changed_fields: previous ? Object.keys(previous) : [],
      // A deletion keeps the object as it was in previous_data; there is no "after".
      data: action === "deleted" ? null : structuredClone(obj),
      previous_data: action === "deleted" ? structuredClone(obj) : previous,
      meta: {},
    };
    events.push(event);
    publish(structuredClone(event));
  };

  const create = (kind: CloseKind, fields: Record<string, unknown> = {}, i = seq + 1) => {
    const obj = build(kind, i, fields);
    bucket(kind).push(obj);
    emit(kind, obj, "created", null, obj.date_created);
    return structuredClone(obj);
  };

  // Seed: users and custom fields first, then leads with their contacts, deals and activities.
  const leads = options.leads ?? 10;
  for (let i = 1; i <= 3; i++) create("user", {}, i);
  for (const k of ["custom_field.lead", "custom_field.contact", "custom_field.opportunity"] as const) for (let i = 1; i <= 2; i++) create(k, {}, i);
  for (let i = 1; i <= leads; i++) {
    const lead = create("lead", {}, i);
    create("contact", { lead_id: lead.id }, i);
    if (i % 2 === 0) create("contact", { lead_id: lead.id }, i + 1000);
    create("opportunity", { lead_id: lead.id }, i);
    for (const t of CLOSE_ACTIVITY_TYPES) create(`activity.${t.toLowerCase()}` as CloseKind, { lead_id: lead.id }, i);
  }

  seeding = false;

  const server = await startFakeServer((req) => route(req));

  function route(req: FakeRequest): FakeResponse {
    // Close's clock, not the caller's: a client that needs "now" reads it here.
    const headers: Record<string, string> = { date: new Date(Math.max(wallMs(), clockMs)).toUTCString() };
    const auth = req.headers.authorization ?? "";
    const key = auth.startsWith("Basic ") ? Buffer.from(auth.slice(6), "base64").toString("utf8").split(":")[0] : "";
    if (!auth) return { status: 401, headers, body: { error: "Unauthorized: no API key was provided. Use HTTP Basic authentication with your API key as the username." } };
    if (key !== apiKey || revoked) return { status: 401, headers, body: { error: "The API key provided is invalid or has been revoked." } };
    if (limiter && rate) {
      const taken = limiter.take();
      const reset = (taken.resetMs / 1000).toFixed(3);
      headers.ratelimit = `limit=${rate.limit}, remaining=${taken.remaining}, reset=${reset}`;
      if (!taken.allowed) {
        return {
          status: 429,
          headers,
          body: { error: { rate_reset: Number(reset), message: `API call count exceeded for this ${rate.windowSeconds} second window`, rate_limit: rate.limit, rate_window: rate.windowSeconds } },
        };
      }
    }
    const answer = respond(req);
    return { ...answer, headers: { ...headers, ...answer.headers } };
  }

  function respond(req: FakeRequest): FakeResponse {
    const m = /^\/api\/v1\/(.+?)\/?$/.exec(req.url.pathname);
    if (!m) return { status: 404, body: { error: "Not found" } };
    const route = m[1];
    if (route === "data/search") {
      if (req.method !== "POST") return { status: 405, body: { error: "Method not allowed" } };
      return searchObjects(req.body, (type) => bucket(type));
    }
    if (req.method !== "GET") return { status: 405, body: { error: "Method not allowed in this fake" } };
    if (route === "me") return { status: 200, body: { id: bucket("user")[0]?.id, organizations: [{ id: ORG, name: "Mako Fake Org" }] } };
    if (route === "event") return listEvents(req.url.searchParams);
    const endpoint = LIST_ENDPOINTS.find((e) => e.route.test(route));
    if (!endpoint) return { status: 404, body: { error: `Unknown endpoint: ${req.url.pathname}` } };
    return listObjects(endpoint, route, req.url.searchParams);
  }

  function listObjects(endpoint: ListEndpoint, route: string, p: URLSearchParams): FakeResponse {
    const unimplemented = endpoint.unimplemented?.find((k) => p.has(k));
    if (unimplemented) return badRequest(`${unimplemented}: documented, but not implemented by this fake`);
    let list = endpoint.kinds(route).flatMap((k) => bucket(k));
    // Only the documented parameters act; any other is ignored, as Close does.
    for (const [key, value] of p) {
      if (!endpoint.params.test(key)) continue;
      const range = /^(.+)__(gte|gt|lte|lt)$/.exec(key);
      if (range) {
        if (Number.isNaN(Date.parse(value))) return badRequest(`${key}: "${value}" is not a valid date`);
        const [, field, op] = range;
        list = list.filter((o) => {
          if (typeof o[field] !== "string") return false;
          const c = compareTimes(o[field] as string, value);
          return op === "gte" ? c >= 0 : op === "gt" ? c > 0 : op === "lte" ? c <= 0 : c < 0;
        });
      } else if (key === "id__in" || key === "_type") {
        const wanted = new Set(value.split(","));
        list = list.filter((o) => wanted.has(String(o[key === "id__in" ? "id" : "_type"])));
      } else if (!["_limit", "_skip", "_fields", "_order_by"].includes(key)) {
        const wanted = new Set(value.split(","));
        list = list.filter((o) => wanted.has(String(o[key])));
      }
    }
    const order = endpoint.params.test("_order_by") ? p.get("_order_by") ?? "-date_created" : "-date_created";
    if (!/^-?(date_updated|date_created|date_won|value|id)$/.test(order)) return badRequest(`_order_by: cannot order by "${order}"`);
    list = sortBy(list, order);
    const skip = Number(p.get("_skip") ?? "0");
    const limit = Number(p.get("_limit") ?? "100");
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return { status: 400, body: { error: "_limit must be an integer between 1 and 100", errors: [], "field-errors": { _limit: "invalid" } } };
    if (!Number.isInteger(skip) || skip < 0) return { status: 400, body: { error: "_skip must be a non-negative integer", errors: [], "field-errors": { _skip: "invalid" } } };
    if (skip > maxSkip) return badRequest(`The maximum _skip for this endpoint is ${maxSkip}. Use a date range or the Advanced Filtering API to paginate deeper.`);
    const fields = p.get("_fields")?.split(",");
    const page = list.slice(skip, skip + limit).map((o) => (fields ? Object.fromEntries(fields.filter((f) => f in o).map((f) => [f, o[f]])) : o));
    return { status: 200, body: { data: page, has_more: skip + limit < list.length, ...endpoint.aggregates?.(list) } };
  }

  function listEvents(p: URLSearchParams): FakeResponse {
    const cutoff = wallMs() - RETENTION_MS;
    // Newest first, as the event log answers; `_cursor` is where the previous page ended.
    let list = events.filter((e) => Date.parse(e.date_created) >= cutoff).reverse();
    const filters = EVENT_FILTERS.filter((f) => p.has(f));
    if (filters.length > 0 && !EVENT_FILTER_COMBINATIONS.has(filters.join("+"))) {
      return badRequest(`Unsupported combination of filters: ${filters.join(", ")}`);
    }
    for (const f of filters) list = list.filter((e) => String(e[f]) === p.get(f));
    for (const op of ["gte", "lte"] as const) {
      const value = p.get(`date_updated__${op}`);
      if (value === null) continue;
      if (Number.isNaN(Date.parse(value))) return badRequest(`date_updated__${op}: "${value}" is not a valid date`);
      list = list.filter((e) => (op === "gte" ? compareTimes(e.date_updated, value) >= 0 : compareTimes(e.date_updated, value) <= 0));
    }
    const limit = Number(p.get("_limit") ?? "50");
    if (!Number.isInteger(limit) || limit < 1 || limit > 50) return badRequest("_limit must be between 1 and 50 for the event log");
    let start = 0;
    const cursor = p.get("_cursor");
    if (cursor) {
      const after = Buffer.from(cursor, "base64url").toString("utf8");
      if (!after.startsWith("ev_")) return badRequest("Invalid _cursor");
      const at = list.findIndex((e) => e.id === after);
      start = at < 0 ? list.findIndex((e) => e.id < after) : at + 1;
      if (start < 0) start = list.length;
    }
    const page = list.slice(start, start + limit);
    const more = start + limit < list.length;
    return {
      status: 200,
      body: {
        data: page,
        cursor_next: more ? Buffer.from(page[page.length - 1].id).toString("base64url") : null,
        cursor_previous: start > 0 ? Buffer.from(list[start - 1].id).toString("base64url") : null,
      },
    };
  }

  const find = (kind: CloseKind, id: string) => bucket(kind).findIndex((o) => o.id === id);

  const fake: CloseFake = {
    ...server,
    apiKey,
    create: (kind, fields) => create(kind, fields),
    update(kind, id, fields) {
      const at = find(kind, id);
      if (at < 0) throw new Error(`close fake: no ${kind} ${id}`);
      const obj = bucket(kind)[at];
      const previous: Record<string, unknown> = {};
      for (const k of Object.keys(fields)) previous[k] = obj[k] ?? null;
      const stamp = now();
      Object.assign(obj, fields, { date_updated: stamp });
      emit(kind, obj, "updated", previous, stamp);
      return structuredClone(obj);
    },
    remove(kind, id) {
      const at = find(kind, id);
      if (at < 0) throw new Error(`close fake: no ${kind} ${id}`);
      const [obj] = bucket(kind).splice(at, 1);
      if (!deleted.has(kind)) deleted.set(kind, []);
      deleted.get(kind)!.push(id);
      emit(kind, obj, "deleted", null, now());
    },
    list: (kind) => structuredClone(bucket(kind)),
    deletedIds: (kind) => [...(deleted.get(kind) ?? [])],
    events: () => structuredClone(events),
    advanceClock(seconds) {
      offsetMs += seconds * 1000;
    },
    now: () => Math.max(wallMs(), clockMs),
    revokeKey() {
      revoked = true;
    },
    subscribeWebhook({ url, events: wanted, retry, consolidationMs = CLOSE_CONSOLIDATION_MS }) {
      const sub: Subscription = {
        id: nextId("whsub"),
        url,
        events: wanted,
        signatureKey: randomBytes(32).toString("hex"),
        retry: { ...CLOSE_RETRY, ...retry },
        consolidationMs,
      };
      subscriptions.push(sub);
      return { id: sub.id, signature_key: sub.signatureKey };
    },
    webhookDeliveries: () => sender.deliveries,
    async webhooksSettled() {
      while (consolidating.size > 0) await Promise.all([...consolidating.values()].map((c) => c.done));
      await sender.settled();
    },
    close: async () => {
      sender.close();
      await server.close();
    },
  };
  return fake;
}

interface ListEndpoint {
  route: RegExp;
  /** The kinds of object the route lists. */
  kinds(route: string): string[];
  /** The query parameters its documentation page lists (and the fake honours). */
  params: RegExp;
  /** Documented parameters the fake does not implement: a 400 rather than a wrong answer. */
  unimplemented?: string[];
  aggregates?(list: CloseObject[]): Record<string, unknown>;
}

const PAGING = "_limit|_skip|_fields";
const DATES = (...fields: string[]) => `(${fields.join("|")})__(gte|gt|lte|lt)`;
const LIST_ENDPOINTS: ListEndpoint[] = [
  // developer.close.com/api/resources/leads/list: `_limit`, `_skip`, `_fields` only (the `query`
  // parameter was deprecated on 2022-02-14 for the Advanced Filtering API: /api/overview/changelog).
  { route: /^lead$/, kinds: () => ["lead"], params: new RegExp(`^(${PAGING})$`) },
  // /api/resources/contacts/list
  { route: /^contact$/, kinds: () => ["contact"], params: new RegExp(`^(${PAGING}|lead_id)$`) },
  // /api/resources/opportunities/list
  {
    route: /^opportunity$/,
    kinds: () => ["opportunity"],
    params: new RegExp(`^(${PAGING}|lead_id|user_id|status_id|status_label|status_type|value_period|_order_by|${DATES("date_created", "date_updated", "date_won")})$`),
    unimplemented: ["query", "_group_by", "lead_saved_search_id"],
    aggregates: (list) => ({ total_results: list.length }),
  },
  // /api/resources/activities/calls/list (and emails, notes, meetings, sms): filters by ids,
  // lead, contact, user, type, date_created and activity_at; no ordering parameter.
  {
    route: /^activity\/(call|email|note|meeting|sms)$/,
    kinds: (route) => [`activity.${route.split("/")[1]}`],
    params: new RegExp(`^(${PAGING}|id__in|lead_id|contact_id|user_id|organization_id|_type|${DATES("date_created", "activity_at")})$`),
  },
  // /api/resources/activities: every activity type together
  {
    route: /^activity$/,
    kinds: () => CLOSE_ACTIVITY_TYPES.map((t) => `activity.${t.toLowerCase()}`),
    params: new RegExp(`^(${PAGING}|id__in|lead_id|contact_id|user_id|organization_id|_type|${DATES("date_created", "activity_at")})$`),
  },
  // /api/resources/users
  { route: /^user$/, kinds: () => ["user"], params: new RegExp(`^(${PAGING})$`) },
  // /api/resources/custom-fields
  { route: /^custom_field\/(lead|contact|opportunity)$/, kinds: (route) => [`custom_field.${route.split("/")[1]}`], params: new RegExp(`^(${PAGING})$`) },
];

/** The event log's filters, in the order the combinations below name them (/api/resources/events/list). */
const EVENT_FILTERS = ["object_type", "object_id", "action", "lead_id", "user_id", "request_id"] as const;
const EVENT_FILTER_COMBINATIONS = new Set([
  "object_type+object_id",
  "object_type+action",
  "object_id+action",
  "object_type+lead_id",
  "object_type+action+lead_id",
  "object_type+lead_id+user_id",
  "object_type+action+lead_id+user_id",
  "lead_id+user_id",
  "object_id+user_id",
  "object_id+action+user_id",
  "object_type+user_id",
  "object_type+action+user_id",
  "lead_id",
  "user_id",
  "request_id",
]);

function badRequest(error: string): FakeResponse {
  return { status: 400, body: { error, errors: [], "field-errors": {} } };
}

function sortBy(list: CloseObject[], order: string): CloseObject[] {
  const desc = order.startsWith("-");
  const field = desc ? order.slice(1) : order;
  return list.sort((x, y) => {
    const a = x[field];
    const b = y[field];
    const c = field === "id" || typeof a !== "string" || typeof b !== "string" ? (a === b ? 0 : String(a) < String(b) ? -1 : 1) : compareTimes(a, b);
    const tie = c || (x.id < y.id ? -1 : 1);
    return desc ? -tie : tie;
  });
}
