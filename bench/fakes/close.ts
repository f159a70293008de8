// A local Close CRM API (https://api.close.com/api/v1/) following developer.close.com: the API
// key as the Basic-auth username; list envelope {data, has_more} with `_skip`/`_limit` (max
// 100, a maximum `_skip`, 400 past either); `date_updated__gte|gt|lt|lte` and `_order_by` on
// contacts, opportunities and activities, the search `query` (`date_updated >= "…"`,
// `sort:date_updated`) on leads; activities per sub-type (/activity/call/ …) and all together
// (/activity/ with `_type`); custom fields per object type; the event log (/event/) with
// cursor pagination (`_cursor`, `cursor_next`), `object_type`/`action` filters and 30 days of
// history; the `RateLimit: limit=…, remaining=…, reset=…` header and a 429 whose body says
// `rate_reset`; errors as {error: "…"}.
import { FixedWindowLimiter, seededHash, seededPick, startFakeServer, type FakeRequest, type FakeResponse, type FakeServer } from "./fakeServer";

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
  revokeKey(): void;
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
  let clockMs = Date.now();
  const kinds = new Map<string, CloseObject[]>();
  const deleted = new Map<string, string[]>();
  const events: CloseEvent[] = [];

  const bucket = (kind: string) => {
    if (!kinds.has(kind)) kinds.set(kind, []);
    return kinds.get(kind)!;
  };
  const now = () => {
    // A strictly increasing clock: two changes never share a date_updated by accident.
    clockMs = Math.max(clockMs + 1, Date.now());
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
    const common = { id: nextId("acti"), _type, lead_id: leadId, contact_id: (pick("contact", i)?.id as string | undefined) ?? null, user_id: userId, ...base };
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

  const emit = (kind: string, obj: CloseObject, action: CloseEvent["action"], previous: Record<string, unknown> | null, stamp: string) => {
    events.push({
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
    });
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

  const server = await startFakeServer((req) => route(req));

  function route(req: FakeRequest): FakeResponse {
    const auth = req.headers.authorization ?? "";
    const key = auth.startsWith("Basic ") ? Buffer.from(auth.slice(6), "base64").toString("utf8").split(":")[0] : "";
    if (!auth) return { status: 401, body: { error: "Unauthorized: no API key was provided. Use HTTP Basic authentication with your API key as the username." } };
    if (key !== apiKey || revoked) return { status: 401, body: { error: "The API key provided is invalid or has been revoked." } };
    const headers: Record<string, string> = {};
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
    const answer = answerGet(req);
    return { ...answer, headers: { ...headers, ...answer.headers } };
  }

  function answerGet(req: FakeRequest): FakeResponse {
    if (req.method !== "GET") return { status: 405, body: { error: "Method not allowed in this fake" } };
    const path = req.url.pathname;
    const p = req.url.searchParams;
    const m = /^\/api\/v1\/(.+?)\/?$/.exec(path);
    if (!m) return { status: 404, body: { error: "Not found" } };
    const route = m[1];
    if (route === "me") return { status: 200, body: { id: bucket("user")[0]?.id, organizations: [{ id: ORG, name: "Mako Fake Org" }] } };
    if (route === "event") return listEvents(p);
    let list: CloseObject[];
    let filterable = true;
    if (route === "lead") {
      const parsed = parseLeadQuery(p.get("query"));
      if (typeof parsed === "string") return { status: 400, body: { error: parsed, errors: [], "field-errors": {} } };
      list = sortBy([...bucket("lead")], parsed.sort).filter((o) => parsed.since === undefined || compare(o.date_updated, parsed.since) >= 0);
      filterable = false;
    } else if (route === "contact") list = [...bucket("contact")];
    else if (route === "opportunity") list = [...bucket("opportunity")];
    else if (route === "user") {
      list = [...bucket("user")];
      filterable = false;
    } else if (route === "activity") {
      const type = p.get("_type");
      list = CLOSE_ACTIVITY_TYPES.filter((t) => !type || t === type).flatMap((t) => bucket(`activity.${t.toLowerCase()}`));
    } else if (/^activity\/(call|email|note|meeting|sms)$/.test(route)) list = [...bucket(`activity.${route.split("/")[1]}`)];
    else if (/^custom_field\/(lead|contact|opportunity)$/.test(route)) {
      list = [...bucket(`custom_field.${route.split("/")[1]}`)];
      filterable = false;
    } else return { status: 404, body: { error: `Unknown endpoint: ${path}` } };

    if (filterable) {
      const filtered = applyFilters(list, p);
      if (typeof filtered === "string") return { status: 400, body: { error: filtered, errors: [], "field-errors": {} } };
      list = filtered;
    } else if (route !== "lead") list = sortBy(list, "-date_created");
    const skip = Number(p.get("_skip") ?? "0");
    const limit = Number(p.get("_limit") ?? "100");
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) return { status: 400, body: { error: "_limit must be an integer between 1 and 100", errors: [], "field-errors": { _limit: "invalid" } } };
    if (!Number.isInteger(skip) || skip < 0) return { status: 400, body: { error: "_skip must be a non-negative integer", errors: [], "field-errors": { _skip: "invalid" } } };
    if (skip > maxSkip) return { status: 400, body: { error: `The maximum _skip for this endpoint is ${maxSkip}. Use a date_updated range to paginate deeper.`, errors: [], "field-errors": {} } };
    const fields = p.get("_fields")?.split(",");
    const page = list.slice(skip, skip + limit).map((o) => (fields ? Object.fromEntries(fields.map((f) => [f, o[f]])) : o));
    return { status: 200, body: { data: page, has_more: skip + limit < list.length } };
  }

  function applyFilters(list: CloseObject[], p: URLSearchParams): CloseObject[] | string {
    let out = list;
    for (const [key, value] of p) {
      const m = /^(date_updated|date_created)__(gte|gt|lte|lt)$/.exec(key);
      if (m) {
        if (Number.isNaN(Date.parse(value))) return `${key}: "${value}" is not a valid date`;
        const [, field, op] = m;
        out = out.filter((o) => {
          const c = compare(o[field] as string, value);
          return op === "gte" ? c >= 0 : op === "gt" ? c > 0 : op === "lte" ? c <= 0 : c < 0;
        });
      } else if (key === "lead_id") out = out.filter((o) => o.lead_id === value);
    }
    const order = p.get("_order_by") ?? "-date_created";
    if (!/^-?(date_updated|date_created|id)$/.test(order)) return `_order_by: cannot order by "${order}"`;
    return sortBy(out, order);
  }

  function listEvents(p: URLSearchParams): FakeResponse {
    const cutoff = clockMs - RETENTION_MS;
    // Newest first, as the event log answers; `_cursor` is where the previous page ended.
    let list = events.filter((e) => Date.parse(e.date_created) >= cutoff).reverse();
    for (const [key, value] of p) {
      if (key === "object_type") list = list.filter((e) => e.object_type === value);
      else if (key === "action") list = list.filter((e) => e.action === value);
      else if (key === "lead_id") list = list.filter((e) => e.lead_id === value);
      else {
        const m = /^date_(updated|created)__(gte|gt|lte|lt)$/.exec(key);
        if (!m) continue;
        if (Number.isNaN(Date.parse(value))) return { status: 400, body: { error: `${key}: "${value}" is not a valid date` } };
        const field = m[1] === "updated" ? "date_updated" : "date_created";
        list = list.filter((e) => {
          const c = compare(e[field], value);
          return m[2] === "gte" ? c >= 0 : m[2] === "gt" ? c > 0 : m[2] === "lte" ? c <= 0 : c < 0;
        });
      }
    }
    const limit = Number(p.get("_limit") ?? "50");
    if (!Number.isInteger(limit) || limit < 1 || limit > 50) return { status: 400, body: { error: "_limit must be between 1 and 50 for the event log" } };
    let start = 0;
    const cursor = p.get("_cursor");
    if (cursor) {
      const after = Buffer.from(cursor, "base64url").toString("utf8");
      const at = list.findIndex((e) => e.id === after);
      if (!after.startsWith("ev_")) return { status: 400, body: { error: "Invalid _cursor" } };
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
    revokeKey() {
      revoked = true;
    },
  };
  return fake;
}

/** Orders Close timestamps (same offset, microseconds) as instants. */
function compare(a: string, b: string): number {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  // Same millisecond: the microsecond digits decide (both in Close's form, or equal).
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortBy(list: CloseObject[], order: string): CloseObject[] {
  const desc = order.startsWith("-");
  const field = desc ? order.slice(1) : order;
  return list.sort((x, y) => {
    const c = field === "id" ? (x.id < y.id ? -1 : x.id > y.id ? 1 : 0) : compare(x[field] as string, y[field] as string) || (x.id < y.id ? -1 : 1);
    return desc ? -c : c;
  });
}

/** The lead search subset the fake understands: `date_updated >= "ISO"` and `sort:[-]field`. */
function parseLeadQuery(query: string | null): { since?: string; sort: string } | string {
  if (!query || !query.trim()) return { sort: "-date_created" };
  let since: string | undefined;
  let sort = "-date_created";
  const rest = query
    .replace(/date_updated\s*>=\s*"([^"]+)"/, (_, v: string) => {
      since = v;
      return "";
    })
    .replace(/sort:(-?)(date_updated|date_created)/, (_, d: string, f: string) => {
      sort = `${d}${f}`;
      return "";
    })
    .trim();
  if (rest) return `query: this fake only understands date_updated >= "…" and sort:…, not "${rest}"`;
  if (since !== undefined && Number.isNaN(Date.parse(since))) return `query: "${since}" is not a valid date`;
  return { since, sort };
}
