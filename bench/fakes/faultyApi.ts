// A fault-injecting fake REST API on loopback, for the HTTP client's tests, the conformance
// kit and the benchmarks. Paginated records (cursor or page), bearer auth, a token-bucket
// limit answering 429 with Retry-After, and seeded faults: 500s, dropped connections, slow,
// truncated and non-JSON bodies, loops, endless empty pages, records without an id.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { RecordStore, type Deletion, type FakeRecord, type RecordKey, type StoredRecord } from "./faulty/RecordStore";
import { ServerBucket } from "./faulty/ServerBucket";
import { seededRandom } from "./faulty/seededRandom";

export type { FakeRecord, Deletion } from "./faulty/RecordStore";

/** A fault to apply to one request, used by `Faults.script`. */
export type FaultKind = "ok" | "429" | "500" | "drop" | "slow" | "truncate" | "nonjson";

export interface Faults {
  /** Probability of a 500 per request. */
  errorRate: number;
  /** Probability the socket is destroyed mid-response. */
  dropRate: number;
  /** Probability a response is delayed by `slowMs`. */
  slowRate: number;
  slowMs: number;
  /** Probability of a 200 whose JSON body is cut in half (with a matching Content-Length). */
  truncateRate: number;
  /** Probability of a 200 with an HTML body. */
  nonJsonRate: number;
  /** Probability, per record served, that its `id` is missing. */
  missingIdRate: number;
  /** Every page requested with a cursor (or page > 1) points back at that same cursor (page). */
  repeatCursor: boolean;
  /** Every page is empty with `has_more: true` and a new cursor, forever. */
  emptyPagesForever: boolean;
  /** The server's token bucket; null for no limit. */
  rateLimit: { requestsPerSecond: number; burst: number } | null;
  retryAfterFormat: "seconds" | "date";
  /** A fixed Retry-After in seconds (0 and hours included) instead of the bucket's own estimate. */
  retryAfterSeconds: number | null;
  /** Quota headers sent with every response while `rateLimit` is set. */
  rateLimitHeaders: "x-ratelimit" | "ietf" | "none";
  /** Faults for the next requests, in order, before any random ones ("ok" for none). */
  script: FaultKind[];
}

export interface FaultyApiOptions {
  /** How many records to generate, or the records themselves. Default 100. */
  records?: number | Array<Partial<FakeRecord>>;
  /** The bearer token clients must send; random by default. */
  token?: string;
  /** Page size when `limit` is not given. Default 100. */
  pageSize?: number;
  /** Largest `limit` accepted. Default 1000. */
  maxPageSize?: number;
  /** Seed of the random faults. Default 1. */
  seed?: number;
  faults?: Partial<Faults>;
  port?: number;
}

export interface FaultyApiStats {
  requests: number;
  ok: number;
  unauthorized: number;
  rateLimited: number;
  errors500: number;
  drops: number;
  slow: number;
  truncated: number;
  nonJson: number;
  badRequests: number;
  notFound: number;
  /** Requests that arrived while a Retry-After the server had sent was still running. */
  requestsDuringPenalty: number;
  recordsServed: number;
  inFlight: number;
  maxInFlight: number;
}

export interface FaultyApi {
  /** Base URL, e.g. http://127.0.0.1:43210 (no trailing slash). */
  url: string;
  token: string;
  stats: FaultyApiStats;
  /** The current records in (updated_at, id) order (a copy). */
  readonly records: FakeRecord[];
  /** Deleted records, with when. */
  readonly deletions: Deletion[];
  setFaults(partial: Partial<Faults>): void;
  resetStats(): void;
  /** Creates or changes records (fresh updated_at); records without id get a new one. */
  upsertRecords(records: Array<Partial<FakeRecord>>): FakeRecord[];
  deleteRecords(ids: string[]): number;
  /** Bumps updated_at of these records. */
  touch(ids: string[]): FakeRecord[];
  close(): Promise<void>;
}

const DEFAULT_FAULTS: Faults = {
  errorRate: 0,
  dropRate: 0,
  slowRate: 0,
  slowMs: 1000,
  truncateRate: 0,
  nonJsonRate: 0,
  missingIdRate: 0,
  repeatCursor: false,
  emptyPagesForever: false,
  rateLimit: null,
  retryAfterFormat: "seconds",
  retryAfterSeconds: null,
  rateLimitHeaders: "x-ratelimit",
  script: [],
};

function emptyStats(): FaultyApiStats {
  return {
    requests: 0,
    ok: 0,
    unauthorized: 0,
    rateLimited: 0,
    errors500: 0,
    drops: 0,
    slow: 0,
    truncated: 0,
    nonJson: 0,
    badRequests: 0,
    notFound: 0,
    requestsDuringPenalty: 0,
    recordsServed: 0,
    inFlight: 0,
    maxInFlight: 0,
  };
}

function encodeCursor(key: RecordKey): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/** The start of the order: every record comes after it. */
const START: RecordKey = ["", ""];

/** A cursor at `key` that differs from every other (empty pages forever must not repeat one). */
function encodeFreshCursor(key: RecordKey, nonce: number): string {
  return Buffer.from(JSON.stringify([key[0], key[1], String(nonce)])).toString("base64url");
}

function decodeCursor(cursor: string): RecordKey | undefined {
  try {
    const key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    // A third element is a nonce (see encodeFreshCursor): the position is the first two.
    if (Array.isArray(key) && (key.length === 2 || key.length === 3) && key.every((k) => typeof k === "string")) return [key[0], key[1]];
  } catch {
    // falls through: not a cursor this server issued
  }
  return undefined;
}

class BadRequest extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

const JSON_TYPE = "application/json; charset=utf-8";
const HTML_BODY = "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>upstream hiccup</p></body></html>";

export async function startFaultyApi(options: FaultyApiOptions = {}): Promise<FaultyApi> {
  const token = options.token ?? `fk_${randomBytes(12).toString("hex")}`;
  const pageSize = options.pageSize ?? 100;
  const maxPageSize = options.maxPageSize ?? 1000;
  const store = new RecordStore(options.records ?? 100);
  const random = seededRandom(options.seed ?? 1);
  let faults: Faults = { ...DEFAULT_FAULTS, ...options.faults, script: [...(options.faults?.script ?? [])] };
  let bucket = faults.rateLimit ? new ServerBucket(faults.rateLimit.requestsPerSecond, faults.rateLimit.burst) : null;
  let penaltyUntil = 0;
  let emptyCursorSeq = 0;
  const stats = emptyStats();
  const timers = new Set<NodeJS.Timeout>();

  function later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  function quotaHeaders(now: number): Record<string, string> {
    if (!bucket || faults.rateLimitHeaders === "none") return {};
    const remaining = bucket.remaining(now);
    const toFull = bucket.msUntilFull(now);
    if (faults.rateLimitHeaders === "ietf") {
      // Windows are whole seconds: advertise the sustained rate over the shortest one that fits.
      const window = Math.max(1, Math.ceil(1 / bucket.requestsPerSecond));
      return {
        "ratelimit-policy": `"bucket";q=${Math.floor(bucket.requestsPerSecond * window)};w=${window}`,
        ratelimit: `"bucket";r=${remaining};t=${Math.ceil(toFull / 1000)}`,
      };
    }
    return {
      "x-ratelimit-limit": String(bucket.burst),
      "x-ratelimit-remaining": String(remaining),
      // Epoch seconds with a fraction (as Discord sends it): when the bucket is full again.
      "x-ratelimit-reset": ((now + toFull) / 1000).toFixed(3),
    };
  }

  function sendJson(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    // Encoded once: pages of 1,000 records are ~200 KB and benchmarks ask for many.
    const bytes = Buffer.from(body);
    res.writeHead(status, { "content-type": JSON_TYPE, "content-length": bytes.length, ...headers });
    res.end(bytes);
  }

  function sendError(res: ServerResponse, status: number, type: string, message: string, extra: Record<string, string> = {}): void {
    sendJson(res, status, JSON.stringify({ error: { type, message, ...extra } }), quotaHeaders(Date.now()));
  }

  /** Answers 429 and starts the penalty the Retry-After announces. */
  function tooManyRequests(res: ServerResponse, now: number, waitMs: number): void {
    stats.rateLimited++;
    const fixed = faults.retryAfterSeconds;
    let value: string;
    let until: number;
    if (fixed !== null) {
      until = now + fixed * 1000;
      value = faults.retryAfterFormat === "date" && fixed > 0 ? new Date(Math.ceil(until / 1000) * 1000).toUTCString() : String(fixed);
      if (faults.retryAfterFormat === "date" && fixed > 0) until = Math.ceil(until / 1000) * 1000;
    } else if (faults.retryAfterFormat === "date") {
      // HTTP dates have whole seconds: round up so the date is never before the token is back.
      until = Math.ceil((now + Math.max(waitMs, 1)) / 1000) * 1000;
      value = new Date(until).toUTCString();
    } else {
      const seconds = Math.max(1, Math.ceil(waitMs / 1000));
      until = now + seconds * 1000;
      value = String(seconds);
    }
    penaltyUntil = Math.max(penaltyUntil, until);
    const body = JSON.stringify({ error: { type: "rate_limited", message: "Too many requests; retry after the Retry-After delay" } });
    sendJson(res, 429, body, { "retry-after": value, ...quotaHeaders(now) });
  }

  function nextFault(): FaultKind {
    const scripted = faults.script.shift();
    if (scripted) return scripted;
    // One draw per kind keeps each kind's sequence stable when another rate changes.
    const draws = { e: random(), d: random(), s: random(), t: random(), n: random() };
    if (draws.e < faults.errorRate) return "500";
    if (draws.d < faults.dropRate) return "drop";
    if (draws.t < faults.truncateRate) return "truncate";
    if (draws.n < faults.nonJsonRate) return "nonjson";
    if (draws.s < faults.slowRate) return "slow";
    return "ok";
  }

  function intParam(url: URL, name: string, min: number, max: number, fallback: number): number {
    const raw = url.searchParams.get(name);
    if (raw === null) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new BadRequest(name, `${name} must be an integer between ${min} and ${max} (got ${JSON.stringify(raw)})`);
    }
    return n;
  }

  function sinceParam(url: URL): string | undefined {
    const raw = url.searchParams.get("updated_since");
    if (raw === null) return undefined;
    const t = Date.parse(raw);
    if (Number.isNaN(t)) throw new BadRequest("updated_since", `updated_since must be an ISO 8601 timestamp (got ${JSON.stringify(raw)})`);
    return new Date(t).toISOString();
  }

  function renderRows(rows: StoredRecord[]): string {
    if (faults.missingIdRate <= 0) return rows.map((r) => r.json).join(",");
    return rows
      .map((r) => {
        if (random() >= faults.missingIdRate) return r.json;
        const { id: _id, ...rest } = r.record;
        return JSON.stringify(rest);
      })
      .join(",");
  }

  function recordsPage(url: URL): string {
    const limit = intParam(url, "limit", 1, maxPageSize, pageSize);
    const since = sinceParam(url);
    const pageText = url.searchParams.get("page");
    if (pageText !== null) {
      const page = intParam(url, "page", 1, Number.MAX_SAFE_INTEGER, 1);
      if (faults.emptyPagesForever) return `{"data":[],"has_more":true,"page":${page},"next_page":${page + 1}}`;
      const { rows, hasMore } = store.pageAt(page, since, limit);
      stats.recordsServed += rows.length;
      const next = faults.repeatCursor && page > 1 ? page : page + 1;
      return `{"data":[${renderRows(rows)}],"has_more":${hasMore},"page":${page},"next_page":${hasMore ? next : null}}`;
    }
    const cursor = url.searchParams.get("cursor");
    let after: RecordKey | undefined;
    if (cursor) {
      after = decodeCursor(cursor);
      if (!after) throw new BadRequest("cursor", "cursor is not one this server issued");
    }
    if (faults.emptyPagesForever) {
      // A new cursor each time, but at the same position: once the fault is gone, a client
      // resuming from any of them reads on from where the real records stopped.
      return `{"data":[],"has_more":true,"next_cursor":${JSON.stringify(encodeFreshCursor(after ?? START, ++emptyCursorSeq))}}`;
    }
    const { rows, hasMore } = store.pageAfter(after, since, limit);
    stats.recordsServed += rows.length;
    let next: string | null = null;
    if (hasMore) next = faults.repeatCursor && cursor ? cursor : encodeCursor([rows[rows.length - 1].record.updated_at, rows[rows.length - 1].record.id]);
    return `{"data":[${renderRows(rows)}],"has_more":${hasMore},"next_cursor":${JSON.stringify(next)}}`;
  }

  function route(req: IncomingMessage, url: URL, requestBody: string): string | null {
    const method = req.method ?? "GET";
    if (url.pathname === "/records" && method === "GET") return recordsPage(url);
    if (url.pathname === "/records/deleted" && method === "GET") {
      return JSON.stringify({ data: store.deletedSince(sinceParam(url)) });
    }
    if (url.pathname === "/me" && method === "GET") return JSON.stringify({ id: "acct_faulty", name: "Faulty API" });
    if (url.pathname === "/echo") {
      return JSON.stringify({
        method,
        query: Object.fromEntries(url.searchParams),
        contentType: req.headers["content-type"] ?? null,
        body: requestBody,
      });
    }
    return null;
  }

  function respond(req: IncomingMessage, res: ServerResponse, requestBody: string): void {
    const now = Date.now();
    const url = new URL(req.url ?? "/", "http://fake.local");
    const auth = req.headers.authorization;
    const presented = auth?.startsWith("Bearer ") ? auth.slice(7) : url.searchParams.get("access_token");
    if (presented !== token) {
      stats.unauthorized++;
      sendError(res, 401, "unauthorized", presented ? "The bearer token is not valid" : "Missing bearer token");
      return;
    }

    if (now < penaltyUntil) {
      stats.requestsDuringPenalty++;
      tooManyRequests(res, now, penaltyUntil - now);
      return;
    }
    if (bucket && !bucket.tryTake(now)) {
      tooManyRequests(res, now, bucket.msUntilToken(now));
      return;
    }

    const fault = nextFault();
    if (fault === "429") {
      tooManyRequests(res, now, 1000);
      return;
    }
    if (fault === "500") {
      stats.errors500++;
      sendError(res, 500, "internal_error", "Something went wrong on our side");
      return;
    }

    let body: string | null;
    try {
      body = route(req, url, requestBody);
    } catch (err) {
      if (err instanceof BadRequest) {
        stats.badRequests++;
        sendError(res, 400, "invalid_request", err.message, { param: err.param });
        return;
      }
      throw err;
    }
    if (body === null) {
      stats.notFound++;
      sendError(res, 404, "not_found", `No route for ${req.method} ${url.pathname}`);
      return;
    }

    const finish = () => {
      const headers = quotaHeaders(Date.now());
      if (fault === "drop") {
        stats.drops++;
        // Headers and part of the body, then the connection dies.
        res.writeHead(200, { "content-type": JSON_TYPE, "content-length": Buffer.byteLength(body), ...headers });
        res.write(body.slice(0, Math.max(1, body.length >> 1)), () => res.socket?.destroy());
        return;
      }
      if (fault === "truncate") {
        stats.truncated++;
        sendJson(res, 200, body.slice(0, Math.max(1, body.length >> 1)), headers);
        return;
      }
      if (fault === "nonjson") {
        stats.nonJson++;
        res.writeHead(200, { "content-type": "text/html", "content-length": Buffer.byteLength(HTML_BODY), ...headers });
        res.end(HTML_BODY);
        return;
      }
      stats.ok++;
      sendJson(res, 200, body, headers);
    };
    if (fault === "slow") {
      stats.slow++;
      later(faults.slowMs, () => {
        if (!res.destroyed) finish();
      });
    } else finish();
  }

  // A long keep-alive: a benchmark client that blocks its event loop (row-by-row inserts)
  // would otherwise reuse a socket the server just closed. close() ends idle ones anyway.
  const server = createServer({ keepAliveTimeout: 10 * 60_000 }, (req, res) => {
    stats.requests++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    res.on("close", () => stats.inFlight--);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      try {
        respond(req, res, Buffer.concat(chunks).toString("utf8"));
      } catch (err) {
        sendError(res, 500, "fake_bug", err instanceof Error ? err.message : String(err));
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    stats,
    get records() {
      return store.snapshot();
    },
    get deletions() {
      return store.deletedSince();
    },
    setFaults(partial) {
      faults = { ...faults, ...partial, script: [...(partial.script ?? faults.script)] };
      if ("rateLimit" in partial) {
        bucket = faults.rateLimit ? new ServerBucket(faults.rateLimit.requestsPerSecond, faults.rateLimit.burst) : null;
        penaltyUntil = 0;
      }
    },
    resetStats() {
      Object.assign(stats, emptyStats(), { inFlight: stats.inFlight });
    },
    upsertRecords: (records) => store.upsert(records),
    deleteRecords: (ids) => store.delete(ids),
    touch: (ids) => store.touch(ids),
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
