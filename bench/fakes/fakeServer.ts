// The plumbing the vendor fakes share: a real node:http server on 127.0.0.1 (port 0), a
// fixed-window rate limiter, request counters and fault injection. Each fake adds its
// vendor's routes, auth scheme, envelopes and error bodies on top.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeStats {
  /** Every request received, rejected or not. */
  requests: number;
  /** Requests per route (method + path without query). */
  byRoute: Record<string, number>;
  /** Requests answered 429. */
  rateLimited: number;
  /** Requests answered 401/403. */
  unauthorized: number;
  /** Faults injected and served. */
  faults: number;
}

/** A request as a fake's route sees it: the parsed URL, headers and decoded body. */
export interface FakeRequest {
  method: string;
  url: URL;
  headers: IncomingMessage["headers"];
  body: unknown;
}

export interface FakeResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A one-off (or n-off) canned answer for requests whose path matches. */
export interface InjectedFault {
  /** Substring or pattern of the path (e.g. "/v1/customers"); every path when omitted. */
  path?: string | RegExp;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** How many matching requests get the fault. Default 1. */
  times?: number;
  /** Matching requests to let through before the fault applies. Default 0. */
  after?: number;
}

/** Requests allowed per window; past it the fake answers 429 until the window turns. */
export interface RateLimitOptions {
  limit: number;
  windowMs: number;
}

export class FixedWindowLimiter {
  private windowStart = 0;
  private used = 0;

  constructor(readonly options: RateLimitOptions) {}

  /** Takes one request from the window; `allowed` false means answer 429. */
  take(now = Date.now()): { allowed: boolean; remaining: number; resetMs: number } {
    if (now - this.windowStart >= this.options.windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
    const resetMs = this.windowStart + this.options.windowMs - now;
    if (this.used >= this.options.limit) return { allowed: false, remaining: 0, resetMs };
    this.used++;
    return { allowed: true, remaining: this.options.limit - this.used, resetMs };
  }
}

export interface FakeServer {
  url: string;
  stats: FakeStats;
  injectFault(fault: InjectedFault): void;
  /** Drops every pending fault. */
  clearFaults(): void;
  close(): Promise<void>;
}

type Handler = (req: FakeRequest) => FakeResponse | Promise<FakeResponse>;

/** Starts a server that answers every request with `handler`, after any injected fault. */
export async function startFakeServer(handler: Handler): Promise<FakeServer> {
  const stats: FakeStats = { requests: 0, byRoute: {}, rateLimited: 0, unauthorized: 0, faults: 0 };
  const pending: (InjectedFault & { seen: number; left: number })[] = [];

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      const method = req.method ?? "GET";
      stats.requests++;
      const route = `${method} ${url.pathname}`;
      stats.byRoute[route] = (stats.byRoute[route] ?? 0) + 1;
      const raw = await readBody(req);
      const fault = takeFault(pending, url.pathname);
      let answer: FakeResponse;
      if (fault) {
        stats.faults++;
        answer = { status: fault.status, body: fault.body, headers: fault.headers };
      } else {
        let body: unknown = raw;
        if (raw && String(req.headers["content-type"] ?? "").includes("application/json")) {
          try {
            body = JSON.parse(raw);
          } catch {
            body = { __invalidJson: raw };
          }
        }
        answer = await handler({ method, url, headers: req.headers, body });
      }
      if (answer.status === 429) stats.rateLimited++;
      if (answer.status === 401 || answer.status === 403) stats.unauthorized++;
      const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, {
        "content-type": typeof answer.body === "string" ? "text/plain" : "application/json",
        ...answer.headers,
      });
      res.end(text);
    } catch (err) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ fakeServerError: String(err) }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    injectFault(fault) {
      pending.push({ ...fault, seen: 0, left: fault.times ?? 1 });
    },
    clearFaults() {
      pending.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function takeFault(pending: (InjectedFault & { seen: number; left: number })[], path: string) {
  for (const f of pending) {
    if (f.left <= 0) continue;
    const matches = f.path === undefined || (typeof f.path === "string" ? path.includes(f.path) : f.path.test(path));
    if (!matches) continue;
    f.seen++;
    if (f.seen <= (f.after ?? 0)) continue;
    f.left--;
    return f;
  }
  return undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** A stateless 32-bit hash: seeded data is a pure function of (index, seed, salt). */
export function seededHash(i: number, seed: number, salt: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(seed + salt, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

export function seededPick<T>(list: readonly T[], i: number, seed: number, salt: number): T {
  return list[seededHash(i, seed, salt) % list.length];
}
