// A local PostHog API following its public documentation, nothing more:
// - auth: a personal API key as `Authorization: Bearer phx_…` (posthog.com/docs/api#authentication);
//   401 {type, code, detail, attr} otherwise; 404 for a project the key cannot see.
// - project lists /api/projects/:id/{persons,cohorts,feature_flags,insights}/ paginated by `limit`
//   and `offset` with a `next` URL in {count, next, previous, results} (posthog.com/docs/api#pagination,
//   posthog.com/docs/api/persons, /cohorts, /feature-flags, /insights); other query parameters are
//   ignored, as a Django REST list view ignores what it does not know; soft-deleted objects are left out.
// - the query API, POST /api/projects/:id/query/ with {query: {kind: "HogQLQuery", query, values}}
//   (posthog.com/docs/api/queries): 100 rows unless the query has a LIMIT, at most 50,000; the body's
//   top-level keys are the documented QueryRequest ones (unknown keys are a 400, as its schema forbids
//   additional properties). Results are CACHED, as documented: `refresh` "blocking" (the default)
//   returns a cached answer to the same query while it is fresh, "force_blocking" always computes,
//   "force_cache" only reads the cache. How long an answer stays fresh is PostHog's business; the
//   fake keeps it `queryCacheSeconds` (15 minutes by default) on its clock.
// - 429 throttled with Retry-After past the configured limit (posthog.com/docs/api#rate-limiting).
import { createHash, randomUUID } from "node:crypto";
import { FixedWindowLimiter, seededHash, seededPick, startFakeServer, type FakeRequest, type FakeResponse, type FakeServer } from "./fakeServer";

export type PostHogResource = "persons" | "cohorts" | "feature_flags" | "insights";
export type PostHogObject = Record<string, unknown> & { id: string | number };

export interface PostHogEvent {
  uuid: string;
  event: string;
  distinct_id: string;
  timestamp: string;
  properties: Record<string, unknown>;
  person_id: string;
  elements_chain: string;
  created_at: string;
}

export interface PostHogFakeOptions {
  apiKey?: string;
  projectId?: number;
  seed?: number;
  persons?: number;
  events?: number;
  /** Requests per window before 429. Default 240 a minute (PostHog's analytics limit); false: none. */
  rateLimit?: { limit: number; windowSeconds: number } | false;
  /** How long a query answer stays fresh in the cache, in seconds of the fake's clock. Default 900. */
  queryCacheSeconds?: number;
}

export interface PostHogFake extends FakeServer {
  apiKey: string;
  projectId: number;
  create(resource: PostHogResource, fields?: Record<string, unknown>): PostHogObject;
  update(resource: PostHogResource, id: string | number, fields: Record<string, unknown>): PostHogObject;
  /** Persons are deleted outright; cohorts, flags and insights soft-deleted (`deleted: true`). */
  remove(resource: PostHogResource, id: string | number): void;
  /** Adds events; `timestamp` in the past makes a late arrival. */
  addEvents(count: number, fields?: Partial<PostHogEvent>): PostHogEvent[];
  list(resource: PostHogResource): PostHogObject[];
  events(): PostHogEvent[];
  /** Query answers served from the cache so far. */
  cachedAnswers(): number;
  /** Moves the fake's clock on (the query cache ages with it). */
  advanceClock(seconds: number): void;
  revokeKey(): void;
}

const EVENT_NAMES = ["$pageview", "$autocapture", "signed_up", "invoice_paid", "$pageleave"];
const PATHS = ["/", "/pricing", "/docs", "/blog", "/signup"];
const EVENT_COLUMNS: Record<string, string> = {
  uuid: "UUID",
  event: "String",
  distinct_id: "String",
  timestamp: "DateTime64(6, 'UTC')",
  properties: "String",
  person_id: "UUID",
  elements_chain: "String",
  created_at: "DateTime64(6, 'UTC')",
};

/** ClickHouse DateTime64(6) as PostHog serialises it. */
function phTime(ms: number): string {
  return new Date(ms).toISOString().replace("Z", "000Z");
}

export async function startPostHogFake(options: PostHogFakeOptions = {}): Promise<PostHogFake> {
  const seed = options.seed ?? 1;
  const apiKey = options.apiKey ?? "phx_MakoFakePersonalApiKey000000000000000000";
  const projectId = options.projectId ?? 4242;
  const rate = options.rateLimit === false ? null : options.rateLimit ?? { limit: 240, windowSeconds: 60 };
  const limiter = rate ? new FixedWindowLimiter({ limit: rate.limit, windowMs: rate.windowSeconds * 1000 }) : null;
  let revoked = false;
  let seq = 0;
  let numericId = 0;
  const store: Record<PostHogResource, PostHogObject[]> = { persons: [], cohorts: [], feature_flags: [], insights: [] };
  const events: PostHogEvent[] = [];
  const start = Date.now();
  let offsetMs = 0;
  const nowMs = () => Date.now() + offsetMs;
  const cacheMs = (options.queryCacheSeconds ?? 900) * 1000;
  const queryCache = new Map<string, { body: Record<string, unknown>; at: number }>();
  let cachedAnswers = 0;

  const uuidAt = (ms: number) => {
    // UUIDv7: the first 48 bits are the millisecond, so uuids of one instant still sort.
    const n = ++seq;
    const hex = ms.toString(16).padStart(12, "0");
    const tail = (seededHash(n, seed, 3).toString(16) + seededHash(n, seed, 4).toString(16)).padStart(16, "0").slice(0, 12);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${(n % 4096).toString(16).padStart(3, "0")}-8${(seededHash(n, seed, 5) % 4096).toString(16).padStart(3, "0")}-${tail}`;
  };

  const build = (resource: PostHogResource, i: number, fields: Record<string, unknown>): PostHogObject => {
    const at = new Date().toISOString();
    if (resource === "persons") {
      const id = uuidAt(start - 86_400_000 + i);
      return { id, uuid: id, name: `user${i}@example.com`, distinct_ids: [`did_${i}`], properties: { email: `user${i}@example.com`, plan: seededPick(["free", "pro"], i, seed, 1) }, created_at: at, is_identified: true, ...fields };
    }
    const id = ++numericId;
    const common = { id, created_at: at, created_by: { id: 1, email: "owner@example.com" }, deleted: false };
    if (resource === "cohorts") return { ...common, name: `Cohort ${i}`, description: "", groups: [{ properties: [{ key: "plan", value: "pro", type: "person" }] }], is_static: false, count: 10 + i, last_calculation: at, ...fields };
    if (resource === "feature_flags") return { ...common, key: `flag-${i}`, name: `Flag ${i}`, active: i % 2 === 0, filters: { groups: [{ properties: [], rollout_percentage: 50 }] }, rollout_percentage: 50, ...fields };
    return { ...common, short_id: `ins${i}${seededHash(i, seed, 2).toString(36).slice(0, 4)}`, name: `Insight ${i}`, saved: true, query: { kind: "InsightVizNode", source: { kind: "TrendsQuery", series: [{ event: "$pageview" }] } }, last_modified_at: at, ...fields };
  };

  const create = (resource: PostHogResource, fields: Record<string, unknown> = {}) => {
    const obj = build(resource, store[resource].length + 1, fields);
    store[resource].push(obj);
    return structuredClone(obj);
  };

  const addEvents = (count: number, fields: Partial<PostHogEvent> = {}) => {
    const added: PostHogEvent[] = [];
    for (let k = 0; k < count; k++) {
      const i = events.length + 1;
      const ms = fields.timestamp ? Date.parse(fields.timestamp) : Math.max(nowMs(), start) - (count - k) * 1000;
      const person = store.persons.length ? store.persons[seededHash(i, seed, 6) % store.persons.length] : undefined;
      const e: PostHogEvent = {
        uuid: uuidAt(ms),
        event: seededPick(EVENT_NAMES, i, seed, 7),
        distinct_id: (person?.distinct_ids as string[] | undefined)?.[0] ?? `anon_${i}`,
        properties: { $current_url: `https://mako.example${seededPick(PATHS, i, seed, 8)}`, $browser: seededPick(["Chrome", "Firefox", "Safari"], i, seed, 9) },
        person_id: (person?.id as string | undefined) ?? uuidAt(ms),
        elements_chain: "",
        created_at: phTime(nowMs()),
        ...fields,
        timestamp: phTime(ms),
      };
      events.push(e);
      added.push(e);
    }
    return structuredClone(added);
  };

  // Seed: persons, a few definitions, and events over the last minutes, some sharing a timestamp.
  for (let i = 0; i < (options.persons ?? 12); i++) create("persons");
  for (let i = 0; i < 4; i++) create("cohorts");
  for (let i = 0; i < 5; i++) create("feature_flags");
  for (let i = 0; i < 6; i++) create("insights");
  const seeded = options.events ?? 60;
  // A minute apart, three by three on the same timestamp; the newest a minute before start.
  for (let i = 0; i < seeded; i++) addEvents(1, { timestamp: new Date(start - Math.ceil((seeded - i) / 3) * 60_000).toISOString() });

  const server = await startFakeServer((req) => route(req));

  function route(req: FakeRequest): FakeResponse {
    const auth = req.headers.authorization ?? "";
    if (!auth.startsWith("Bearer ")) return { status: 401, body: phError("authentication_error", "not_authenticated", "Authentication credentials were not provided.") };
    if (auth.slice(7).trim() !== apiKey || revoked) {
      return { status: 401, body: phError("authentication_error", "authentication_failed", "Personal API key found in request Authorization header is invalid.") };
    }
    if (limiter && rate && !limiter.take().allowed) {
      return { status: 429, headers: { "retry-after": String(rate.windowSeconds) }, body: phError("throttled_error", "throttled", `Request was throttled. Expected available in ${rate.windowSeconds} seconds.`) };
    }
    const m = /^\/api\/projects\/([^/]+)\/?(.*?)\/?$/.exec(req.url.pathname);
    if (req.url.pathname.replace(/\/$/, "") === "/api/users/@me") return { status: 200, body: { uuid: "0190-user", email: "owner@example.com", team: { id: projectId } } };
    if (!m) return { status: 404, body: phError("invalid_request", "not_found", "Not found.") };
    if (m[1] !== String(projectId)) return { status: 404, body: phError("invalid_request", "not_found", "Not found.") };
    const rest = m[2];
    if (rest === "" && req.method === "GET") return { status: 200, body: { id: projectId, name: "Mako fake project", timezone: "UTC" } };
    if (rest === "query" && req.method === "POST") return runQuery(req.body);
    if (req.method === "GET" && (["persons", "cohorts", "feature_flags", "insights"] as string[]).includes(rest)) return listResource(rest as PostHogResource, req);
    return { status: 404, body: phError("invalid_request", "not_found", "Not found.") };
  }

  function listResource(resource: PostHogResource, req: FakeRequest): FakeResponse {
    const p = req.url.searchParams;
    // `limit` and `offset` (posthog.com/docs/api#pagination); any other parameter is ignored.
    const limit = Number(p.get("limit") ?? "100");
    const offset = Number(p.get("offset") ?? "0");
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return { status: 400, body: phError("validation_error", "invalid_input", "limit must be between 1 and 1000", "limit") };
    if (!Number.isInteger(offset) || offset < 0) return { status: 400, body: phError("validation_error", "invalid_input", "offset must be a non-negative integer", "offset") };
    const all = store[resource].filter((o) => o.deleted !== true);
    const page = all.slice(offset, offset + limit);
    const base = `${server.url}${req.url.pathname}`;
    const next = offset + limit < all.length ? `${base}?limit=${limit}&offset=${offset + limit}` : null;
    const previous = offset > 0 ? `${base}?limit=${limit}&offset=${Math.max(0, offset - limit)}` : null;
    return { status: 200, body: { count: all.length, next, previous, results: page } };
  }

  function runQuery(body: unknown): FakeResponse {
    const request = (body ?? {}) as Record<string, unknown>;
    // QueryRequest's schema has additionalProperties: false (posthog.com/docs/api/queries).
    const unknown = Object.keys(request).find((k) => !QUERY_REQUEST_KEYS.has(k));
    if (unknown) return { status: 400, body: phError("validation_error", "invalid_input", `Extra inputs are not permitted`, unknown) };
    const q = request.query as { kind?: string; query?: string; values?: Record<string, unknown> } | undefined;
    if (!q || typeof q !== "object") return { status: 400, body: phError("validation_error", "invalid_input", "This field is required.", "query") };
    if (q.kind !== "HogQLQuery") return { status: 400, body: phError("validation_error", "invalid_input", `This fake runs HogQLQuery only, not ${q.kind}`, "query.kind") };
    // `refresh` (posthog.com/docs/api/queries, "Caching and execution modes"): the synchronous modes.
    if (request.async === true) return { status: 400, body: phError("validation_error", "invalid_input", "This fake runs queries synchronously: async is not implemented", "async") };
    const refresh = request.refresh ?? "blocking";
    if (refresh !== "blocking" && refresh !== "force_blocking" && refresh !== "force_cache") {
      return { status: 400, body: phError("validation_error", "invalid_input", `This fake runs queries synchronously: refresh must be blocking, force_blocking or force_cache, not ${JSON.stringify(refresh)}`, "refresh") };
    }
    const key = JSON.stringify([q.kind, q.query ?? "", q.values ?? {}]);
    const hit = queryCache.get(key);
    const fresh = hit !== undefined && nowMs() - hit.at < cacheMs;
    if ((refresh === "blocking" && fresh) || (refresh === "force_cache" && hit)) {
      cachedAnswers++;
      return { status: 200, body: { ...hit!.body, is_cached: true, query_id: randomUUID() } };
    }
    if (refresh === "force_cache") return { status: 200, body: { results: null, is_cached: false, cache_key: cacheKey(key), query_status: null } };
    let parsed: ParsedQuery;
    try {
      parsed = parseHogQL(String(q.query ?? ""), q.values ?? {});
    } catch (err) {
      return { status: 400, body: phError("validation_error", "query_error", (err as Error).message) };
    }
    const rows = events
      .filter((e) => parsed.where(e))
      .sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0))
      .slice(0, parsed.limit);
    const results = rows.map((e) => parsed.columns.map((c) => (c === "properties" ? JSON.stringify(e.properties) : e[c as keyof PostHogEvent])));
    const answer = {
      columns: parsed.columns,
      types: parsed.columns.map((c) => [c, EVENT_COLUMNS[c]]),
      results,
      hasMore: false,
      limit: parsed.limit,
      offset: 0,
      is_cached: false,
      cache_key: cacheKey(key),
      last_refresh: new Date(nowMs()).toISOString(),
      query_status: null,
      timings: [],
      hogql: q.query,
      modifiers: {},
      clickhouse: "SELECT … (fake)",
    };
    queryCache.set(key, { body: answer, at: nowMs() });
    return { status: 200, body: { ...answer, query_id: randomUUID() } };
  }

  const fake: PostHogFake = {
    ...server,
    apiKey,
    projectId,
    create,
    update(resource, id, fields) {
      const obj = store[resource].find((o) => o.id === id);
      if (!obj) throw new Error(`posthog fake: no ${resource} ${id}`);
      Object.assign(obj, fields);
      if (resource === "insights") obj.last_modified_at = new Date().toISOString();
      return structuredClone(obj);
    },
    remove(resource, id) {
      const at = store[resource].findIndex((o) => o.id === id);
      if (at < 0) throw new Error(`posthog fake: no ${resource} ${id}`);
      if (resource === "persons") store.persons.splice(at, 1);
      else store[resource][at].deleted = true;
    },
    addEvents,
    list: (resource) => structuredClone(store[resource].filter((o) => o.deleted !== true)),
    events: () => structuredClone([...events].sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.uuid < b.uuid ? -1 : 1))),
    cachedAnswers: () => cachedAnswers,
    advanceClock(seconds) {
      offsetMs += seconds * 1000;
    },
    revokeKey() {
      revoked = true;
    },
  };
  return fake;
}

/** The top-level keys of QueryRequest (posthog.com/docs/api/queries, "Query parameters"). */
const QUERY_REQUEST_KEYS = new Set(["query", "client_query_id", "refresh", "filters_override", "variables_override", "name", "async"]);

function cacheKey(key: string): string {
  return `cache_${createHash("sha256").update(key).digest("hex").slice(0, 32)}`;
}

function phError(type: string, code: string, detail: string, attr: string | null = null) {
  return { type, code, detail, attr };
}

interface ParsedQuery {
  columns: string[];
  where: (e: PostHogEvent) => boolean;
  limit: number;
}

/**
 * The HogQL this fake understands — what an export needs:
 * `SELECT <event columns> FROM events [WHERE <cond>] [ORDER BY timestamp [ASC], uuid [ASC]] [LIMIT n]`
 * where <cond> combines `timestamp|uuid <op> {placeholder}|'literal'|toDateTime(…)` with
 * AND, OR and parentheses. Anything else is a query error, as PostHog would say.
 */
function parseHogQL(sql: string, values: Record<string, unknown>): ParsedQuery {
  const m = /^\s*select\s+(.+?)\s+from\s+events(?:\s+where\s+(.+?))?(?:\s+order\s+by\s+(.+?))?(?:\s+limit\s+(\d+))?\s*;?\s*$/is.exec(sql);
  if (!m) throw new Error(`Syntax error: this fake only runs SELECT … FROM events queries, got: ${sql.slice(0, 80)}`);
  const columns = m[1].split(",").map((c) => c.trim());
  for (const c of columns) if (!(c in EVENT_COLUMNS)) throw new Error(`Unable to resolve field: ${c}`);
  if (m[3] && !/^timestamp(\s+asc)?\s*,\s*uuid(\s+asc)?$/i.test(m[3].trim())) throw new Error(`This fake orders by timestamp, uuid only, not ${m[3]}`);
  const limit = Math.min(Number(m[4] ?? "100"), 50_000);
  const where = m[2] ? parseCondition(m[2], values) : () => true;
  return { columns, where, limit };
}

type Predicate = (e: PostHogEvent) => boolean;

function parseCondition(text: string, values: Record<string, unknown>): Predicate {
  const tokens = text.match(/\(|\)|>=|<=|!=|=|>|<|'[^']*'|\{[a-z_][a-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*/gi) ?? [];
  let pos = 0;
  const peek = () => tokens[pos]?.toLowerCase();
  const next = () => tokens[pos++];

  const operand = (): string => {
    const t = next();
    if (t === undefined) throw new Error("Syntax error: unexpected end of condition");
    if (t.startsWith("'")) return t.slice(1, -1);
    if (t.startsWith("{")) {
      const name = t.slice(1, -1);
      if (!(name in values)) throw new Error(`Placeholder {${name}} is not defined in values`);
      return String(values[name]);
    }
    if (/^(todatetime|touuid|todatetime64)$/i.test(t)) {
      if (next() !== "(") throw new Error(`Syntax error after ${t}`);
      const v = operand();
      if (next() !== ")") throw new Error(`Syntax error: ) expected after ${t}(…`);
      return v;
    }
    throw new Error(`Syntax error: unexpected ${t}`);
  };

  const comparison = (): Predicate => {
    if (peek() === "(") {
      next();
      const inner = disjunction();
      if (next() !== ")") throw new Error("Syntax error: ) expected");
      return inner;
    }
    const field = next()?.toLowerCase();
    if (field !== "timestamp" && field !== "uuid") throw new Error(`This fake filters on timestamp and uuid only, not ${field}`);
    const op = next();
    const raw = operand();
    const value = field === "timestamp" ? Date.parse(raw.includes("T") || raw.includes("Z") ? raw : `${raw.replace(" ", "T")}Z`) : raw;
    if (field === "timestamp" && Number.isNaN(value)) throw new Error(`Cannot parse ${raw} as a DateTime`);
    const get = (e: PostHogEvent): number | string => (field === "timestamp" ? Date.parse(e.timestamp) * 1000 + Number(e.timestamp.slice(23, 26)) : e.uuid);
    const target = field === "timestamp" ? (value as number) * 1000 + micros(raw) : value;
    switch (op) {
      case ">":
        return (e) => get(e) > target;
      case ">=":
        return (e) => get(e) >= target;
      case "<":
        return (e) => get(e) < target;
      case "<=":
        return (e) => get(e) <= target;
      case "=":
        return (e) => get(e) === target;
      case "!=":
        return (e) => get(e) !== target;
      default:
        throw new Error(`Syntax error: operator expected after ${field}, got ${op}`);
    }
  };
  const conjunction = (): Predicate => {
    let left = comparison();
    while (peek() === "and") {
      next();
      const a = left;
      const b = comparison();
      left = (e) => a(e) && b(e);
    }
    return left;
  };
  const disjunction = (): Predicate => {
    let left = conjunction();
    while (peek() === "or") {
      next();
      const a = left;
      const b = conjunction();
      left = (e) => a(e) || b(e);
    }
    return left;
  };
  const predicate = disjunction();
  if (pos < tokens.length) throw new Error(`Syntax error near ${tokens[pos]}`);
  return predicate;
}

/** The sub-millisecond digits of an ISO timestamp ("…:05.123456Z" → 456), else 0. */
function micros(iso: string): number {
  const m = /\.\d{3}(\d{1,3})/.exec(iso);
  return m ? Number(m[1].padEnd(3, "0")) : 0;
}
