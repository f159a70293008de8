// A vendor API whose one budget (per account, i.e. per API key) is enforced: a token bucket of
// `requestsPerSecond` with a burst of `burst`. Past it, and for as long as a Retry-After it
// sent is running, it answers 429 Too Many Requests with Retry-After in delay-seconds, as the
// HTTP specifications define them (RFC 6585 §4: https://www.rfc-editor.org/rfc/rfc6585#section-4;
// RFC 9110 §10.2.3: https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3). It logs every
// arrival, so a test can check the aggregate pace of several clients and that nothing arrived
// during a penalty. Collections are read by cursor, `limit` records a page (1..100); other
// parameters are ignored, as vendors do. Records are generated on demand: a collection may
// hold millions without being stored.
import { ServerBucket } from "./faulty/ServerBucket";
import { startFakeServer, type FakeServer, type FakeStats } from "./fakeServer";

export interface RatedApiOptions {
  requestsPerSecond: number;
  burst: number;
  /** The collections served at /v1/{name}. */
  collections?: string[];
  /** Records per collection. Default 1,000,000. */
  records?: number;
  token?: string;
}

export interface Arrival {
  /** Epoch ms at which the server handled it. */
  at: number;
  /**
   * How long this fake had not run before it handled the request (ms): its event loop ticks
   * every 5 ms, so more means its process was starved, and requests that queued meanwhile
   * look simultaneous to it. A real vendor's front does not stall with its clients' machine.
   */
  lagMs: number;
  collection: string;
  status: number;
}

export interface RatedApi {
  url: string;
  token: string;
  stats: FakeStats & { duringPenalty: number };
  /** Every request handled, in order of arrival. */
  readonly arrivals: Arrival[];
  /** Answers the next request 429 with `Retry-After: seconds`, whatever the bucket holds. */
  rateLimitNext(seconds: number): void;
  close(): Promise<void>;
}

const MAX_LIMIT = 100;
const EPOCH = Date.parse("2024-01-01T00:00:00.000Z");

function page(collection: string, after: number, limit: number, total: number) {
  const data = [];
  for (let i = after + 1; i <= Math.min(total, after + limit); i++) {
    data.push({ id: `${collection}_${i}`, name: `${collection} ${i}`, updated_at: new Date(EPOCH + i * 1000).toISOString() });
  }
  const last = after + data.length;
  const hasMore = last < total;
  return { data, has_more: hasMore, next_cursor: hasMore ? Buffer.from(String(last)).toString("base64url") : null };
}

export async function startRatedApi(options: RatedApiOptions): Promise<RatedApi> {
  const token = options.token ?? `rk_${Math.random().toString(36).slice(2)}`;
  const collections = new Set(options.collections ?? ["contacts", "deals", "tickets"]);
  const total = options.records ?? 1_000_000;
  const bucket = new ServerBucket(options.requestsPerSecond, options.burst);
  const arrivals: Arrival[] = [];
  let penaltyUntil = 0;
  let forced: number | undefined;
  let duringPenalty = 0;
  let lastTick = Date.now();
  const ticker = setInterval(() => (lastTick = Date.now()), 5);
  ticker.unref();

  const tooMany = (now: number, seconds: number) => {
    penaltyUntil = Math.max(penaltyUntil, now + seconds * 1000);
    return { status: 429, body: { error: { type: "rate_limited", message: "Too many requests" } }, headers: { "retry-after": String(seconds) } };
  };

  const server: FakeServer = await startFakeServer(({ method, url, headers }) => {
    const now = Date.now();
    const collection = url.pathname.replace(/^\/v1\//, "");
    const answer = (() => {
      if (headers.authorization !== `Bearer ${token}`) return { status: 401, body: { error: { type: "unauthorized", message: "Invalid API key" } } };
      if (forced !== undefined) {
        const seconds = forced;
        forced = undefined;
        return tooMany(now, seconds);
      }
      if (now < penaltyUntil) {
        duringPenalty++;
        return tooMany(now, Math.ceil((penaltyUntil - now) / 1000));
      }
      if (!bucket.tryTake(now)) return tooMany(now, Math.max(1, Math.ceil(bucket.msUntilToken(now) / 1000)));
      if (method !== "GET" || !collections.has(collection)) return { status: 404, body: { error: { type: "not_found", message: `No route for ${method} ${url.pathname}` } } };
      const limit = Number(url.searchParams.get("limit") ?? 10);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
        return { status: 400, body: { error: { type: "invalid_request", message: `limit must be an integer between 1 and ${MAX_LIMIT}` } } };
      }
      const cursor = url.searchParams.get("cursor");
      const after = cursor ? Number(Buffer.from(cursor, "base64url").toString()) : 0;
      if (!Number.isInteger(after) || after < 0) return { status: 400, body: { error: { type: "invalid_request", message: "cursor is not one this server issued" } } };
      return { status: 200, body: page(collection, after, limit, total) };
    })();
    arrivals.push({ at: now, collection, status: answer.status, lagMs: now - lastTick });
    return answer;
  });

  return {
    url: server.url,
    token,
    stats: Object.defineProperty(server.stats, "duringPenalty", { get: () => duringPenalty, enumerable: true }) as RatedApi["stats"],
    arrivals,
    rateLimitNext(seconds) {
      forced = seconds;
    },
    close: () => {
      clearInterval(ticker);
      return server.close();
    },
  };
}
