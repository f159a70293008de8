import type { ConnectorObserver, LogLevel, RequestMetric, WaitReason } from "../types";
import { readUpTo } from "./cappedRead";
import { abortableDelay } from "./abortableDelay";
import { formatDuration } from "./formatDuration";
import { HttpError, type HttpErrorKind } from "./HttpError";
import { DEFAULT_CLIENT_SETTINGS, resolveLimiterConfig, type ClientSettings } from "./httpSettings";
import { parseQuotaHeaders, parseQuotaPolicy } from "./quotaHeaders";
import { LimiterWaitTooLong, RateLimiter, type LimiterPermit } from "./RateLimiter";
import { parseRetryAfter } from "./retryAfter";
import { backoffDelay, describeNetworkError, isRetryableStatus, serverDelay } from "./RetryPolicy";
import { SecretRedactor } from "./SecretRedactor";
import { RateLimitBackendError } from "./SlotSource";
import type { HttpClientOptions, HttpRequest, HttpResponse } from "./types";

/** How a client is wired into its data source; `createHttpClient` on BaseConnector fills it. */
export interface HttpClientRuntime {
  /** Shared by every client of the data source; a private one (10 req/s) when absent. */
  limiter?: RateLimiter;
  settings?: Partial<ClientSettings>;
  /** Read at every event: the engine attaches its observer after the connector is built. */
  observer?: () => ConnectorObserver | undefined;
  /** Source of jitter; tests may make it deterministic. */
  random?: () => number;
}

/**
 * Longest wait between retries of a connection that could not be made (DNS, refused): such a
 * failure either heals within seconds or not at all, so the run learns it within ~10 s.
 */
const CONNECT_MAX_DELAY_MS = 4000;

/** Characters of a response body quoted in an error message. */
const SNIPPET_LENGTH = 200;
const USER_AGENT = "mako-connector/0.1";

type Attempt<T> = { response: HttpResponse<T> } | { error: HttpError };

interface PreparedRequest {
  method: string;
  url: URL;
  shownUrl: string;
  init: RequestInit;
  redactor: SecretRedactor;
  signal?: AbortSignal;
  responseType: "json" | "text";
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

const TOO_LARGE = Symbol("too large");

/**
 * A response body as text, read up to `limit` bytes: past it (or when Content-Length says so)
 * reading stops and the rest is never buffered, however much a source sends.
 */
async function readCapped(res: Response, limit: number): Promise<string | typeof TOO_LARGE> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    await res.body?.cancel().catch(() => {});
    return TOO_LARGE;
  }
  if (!res.body) return "";
  const bytes = await readUpTo(res.body, limit, "cancel");
  return bytes === null ? TOO_LARGE : new TextDecoder().decode(bytes);
}

function waitReasonOf(err: HttpError, sourceWide: boolean): WaitReason {
  if (sourceWide) return "rate_limit";
  if (err.kind === "network") return "network_error";
  if (err.kind === "timeout") return "timeout";
  return "server_error";
}

function joinUrl(base: string, path: string): string {
  if (path === "") return base;
  return `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}

/**
 * The connectors' HTTP client: paced by the data source's limiter, retried with backoff and
 * jitter on 429, 5xx, timeouts and network failures, honouring Retry-After and quota headers,
 * with errors that say what failed and never show a secret.
 */
export class HttpClient {
  private readonly baseUrl: URL;
  private readonly redactor: SecretRedactor;
  private readonly limiter: RateLimiter;
  private readonly settings: ClientSettings;
  private readonly random: () => number;
  private readonly connectRetrySettings: ClientSettings;

  constructor(
    private readonly options: HttpClientOptions,
    private readonly runtime: HttpClientRuntime = {},
  ) {
    try {
      this.baseUrl = new URL(options.baseUrl);
    } catch {
      throw new Error(`HttpClient: baseUrl must be an absolute URL (got ${JSON.stringify(options.baseUrl)})`);
    }
    if (this.baseUrl.protocol !== "http:" && this.baseUrl.protocol !== "https:") {
      throw new Error(`HttpClient: baseUrl must use http or https (got ${this.baseUrl.protocol})`);
    }
    this.redactor = new SecretRedactor(options.secrets);
    this.redactor.addFromHeaders(options.headers);
    this.redactor.addFromQuery(options.query);
    this.settings = { ...DEFAULT_CLIENT_SETTINGS, ...runtime.settings };
    this.connectRetrySettings = { ...this.settings, maxDelayMs: Math.min(this.settings.maxDelayMs, CONNECT_MAX_DELAY_MS) };
    this.limiter = runtime.limiter ?? new RateLimiter(resolveLimiterConfig({}, { requestsPerSecond: 10, burst: 10 }));
    this.random = runtime.random ?? Math.random;
  }

  async get<T = unknown>(path: string, query?: HttpRequest["query"], init?: Partial<HttpRequest>): Promise<T> {
    return (await this.request<T>({ ...init, method: "GET", path, query: query ?? init?.query })).body;
  }

  async post<T = unknown>(path: string, body?: unknown, init?: Partial<HttpRequest>): Promise<T> {
    return (await this.request<T>({ ...init, method: "POST", path, body: body ?? init?.body })).body;
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const prepared = this.prepare(req);
    const { method, shownUrl, signal } = prepared;
    let retries = 0;
    for (;;) {
      signal?.throwIfAborted();
      const outcome = await this.attempt<T>(prepared);
      if ("response" in outcome) return outcome.response;
      const err = outcome.error;
      if (!err.retryable) throw err;
      const delay =
        err.retryAfterMs && err.retryAfterMs > 0
          ? serverDelay(err.retryAfterMs, this.random)
          : backoffDelay(retries + 1, err.unreachable ? this.connectRetrySettings : this.settings, this.random);
      const sourceWide = err.status === 429 || (err.status === 503 && err.retryAfterMs !== undefined);
      if (sourceWide) {
        // The whole data source is told to wait, not just this request: pause the shared limiter
        // (also when giving up, so the source's other requests do not walk into the penalty).
        const resumeAt = Date.now() + delay;
        this.limiter.pauseUntil(resumeAt, `HTTP ${err.status} from ${method} ${shownUrl}`);
        if (err.status === 429) {
          const rate = this.limiter.slowDown(resumeAt);
          this.log("info", `HTTP 429: pacing this data source at ${rate.toFixed(2)} req/s until requests succeed again`);
        }
      }
      if (err.retryAfterMs !== undefined && err.retryAfterMs > this.settings.maxRetryAfterMs) {
        throw this.waitTooLong(prepared, err.retryAfterMs, `Retry-After on HTTP ${err.status}`, err);
      }
      if (retries >= this.settings.maxRetries) throw err.exhausted(retries);
      retries++;
      this.count("retries", 1);
      this.log("warn", `${err.message}; retry ${retries}/${this.settings.maxRetries} in ${formatDuration(delay)}`);
      this.runtime.observer?.()?.waiting?.(waitReasonOf(err, sourceWide), delay);
      // A source-wide pause is waited out in the limiter (and counted there); other failures back off here.
      if (!sourceWide) {
        await abortableDelay(delay, signal);
        this.count("waitMs", delay);
      }
    }
  }

  private prepare(req: HttpRequest): PreparedRequest {
    const method = (req.method ?? "GET").toUpperCase();
    const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.test(req.path);
    let url: URL;
    try {
      url = new URL(absolute ? req.path : joinUrl(this.options.baseUrl, req.path));
    } catch {
      throw new Error(`HttpClient: cannot build a URL from path ${JSON.stringify(req.path)}`);
    }
    // The client's credentials go only to its own origin (a next-page link may point elsewhere).
    const sameOrigin = url.origin === this.baseUrl.origin;
    if (sameOrigin) for (const [k, v] of Object.entries(this.options.query ?? {})) url.searchParams.set(k, v);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));

    const headers: Record<string, string> = { accept: "application/json", "user-agent": USER_AGENT };
    if (sameOrigin) Object.assign(headers, this.options.headers);
    let body: string | undefined;
    if (req.form !== undefined) {
      body = new URLSearchParams(req.form).toString();
      headers["content-type"] = "application/x-www-form-urlencoded";
    } else if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers["content-type"] = "application/json";
    }
    Object.assign(headers, req.headers);

    const redactor = this.redactor.forRequest(req.headers, req.query);
    if (req.form) redactor.addFromQuery(req.form);
    return {
      method,
      url,
      shownUrl: redactor.url(url),
      init: { method, headers, body },
      redactor,
      signal: req.signal,
      responseType: req.responseType ?? "json",
    };
  }

  private async attempt<T>(p: PreparedRequest): Promise<Attempt<T>> {
    let permit: LimiterPermit;
    try {
      permit = await this.limiter.acquire({ signal: p.signal, maxWaitMs: this.settings.maxRetryAfterMs });
    } catch (err) {
      if (err instanceof LimiterWaitTooLong) throw this.waitTooLong(p, err.waitMs, err.reason);
      // Sending without a slot would break the limit the other processes keep: fail, retryably.
      if (err instanceof RateLimitBackendError) {
        return { error: this.error(p, "rate_limiter", `${p.method} ${p.shownUrl} not sent: ${err.message}`, { retryable: true }, err) };
      }
      throw err;
    }
    try {
      if (permit.waitedMs > 0) {
        this.count("waitMs", permit.waitedMs);
        if (permit.pauseReason) {
          this.log("info", `waited ${formatDuration(permit.waitedMs)} before ${p.method} ${p.shownUrl} (${permit.pauseReason})`);
        } else if (permit.waitedMs >= 1000) {
          this.log("debug", `waited ${formatDuration(permit.waitedMs)} for the rate limit before ${p.method} ${p.shownUrl}`);
        }
      }
      return await this.send<T>(p);
    } finally {
      permit.release();
    }
  }

  /** One request on the wire; the caller holds the limiter's permit. */
  private async send<T>(p: PreparedRequest): Promise<Attempt<T>> {
    const { method, shownUrl, signal } = p;
    const timeoutMs = this.settings.requestTimeoutMs;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const onAbort = () => controller.abort(signal!.reason);
    signal?.addEventListener("abort", onAbort, { once: true });

    this.count("requests", 1);
    let res: Response;
    let text: string;
    try {
      res = await fetch(p.url, { ...p.init, signal: controller.signal });
      // The timeout covers the body too: a server that stalls mid-body is a timeout.
      const body = await readCapped(res, this.settings.maxResponseBytes);
      if (body === TOO_LARGE) {
        const limit = this.settings.maxResponseBytes;
        const message = `${method} ${shownUrl}: the response is larger than settings.maxResponseBytes (${limit} bytes); reading stopped there, and the entity stops with its checkpoint intact`;
        return { error: this.error(p, "too_large", message, { retryable: false, status: res.status }) };
      }
      text = body;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (timedOut) {
        return { error: this.error(p, "timeout", `${method} ${shownUrl} timed out after ${formatDuration(timeoutMs)}`, { retryable: true }) };
      }
      const failure = describeNetworkError(err);
      return {
        error: this.error(
          p,
          "network",
          `${method} ${shownUrl} failed: ${failure.description}`,
          { retryable: failure.transient, code: failure.code, unreachable: failure.connect },
          err,
        ),
      };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }

    const policy = parseQuotaPolicy(res.headers);
    if (policy && this.limiter.applyPolicy(policy)) {
      this.log(
        "info",
        `${policy.source} allows ${policy.burst} requests per ${formatDuration((policy.burst / policy.requestsPerSecond) * 1000)}: ` +
          `pacing this data source at ${this.limiter.effectiveRate.toFixed(2)} req/s`,
      );
    }
    const quota = parseQuotaHeaders(res.headers);
    if (quota) {
      const pausedMs = this.limiter.applyQuota(quota);
      if (pausedMs > 0) {
        this.log("info", `${quota.source} says the quota is used up: pausing requests of this data source for ${formatDuration(pausedMs)}`);
      }
    }

    if (res.status >= 400) return { error: this.statusError(p, res, text) };
    this.limiter.recover();

    let body: unknown = text;
    if (p.responseType === "json") {
      if (text.trim() === "") body = null;
      else {
        try {
          body = JSON.parse(text);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          const message = `${method} ${shownUrl} returned a body that is not valid JSON (HTTP ${res.status}, ${text.length} chars, ${reason}): ${this.snippet(p, text)}`;
          return { error: this.error(p, "parse", message, { retryable: true, status: res.status, bodySnippet: this.snippet(p, text) }) };
        }
      }
    }
    return { response: { status: res.status, headers: res.headers, body: body as T, url: shownUrl } };
  }

  private statusError(p: PreparedRequest, res: Response, text: string): HttpError {
    const status = res.status;
    const retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
    if (status === 429) this.count("rateLimited", 1);
    const snippet = this.snippet(p, text);
    const vendor = this.options.readError?.(status, text);
    const retryable = vendor?.retryable ?? isRetryableStatus(status);
    // A 403 the vendor calls retryable is a rate limit, not a rejected credential.
    const credentialsRejected = (status === 401 || status === 403) && !retryable;
    let message = `${p.method} ${p.shownUrl} failed: HTTP ${status}${res.statusText ? ` ${res.statusText}` : ""}`;
    if (credentialsRejected) message += ", credentials rejected";
    if (retryAfterMs !== undefined) message += ` (Retry-After ${formatDuration(retryAfterMs)})`;
    const shown = vendor?.message ? oneLine(vendor.message).slice(0, SNIPPET_LENGTH * 2) : snippet;
    if (shown) message += `: ${shown}`;
    return this.error(p, "http", message, {
      status,
      retryable,
      retryAfterMs,
      bodySnippet: snippet || undefined,
      code: vendor?.code,
      credentialsRejected,
    });
  }

  private waitTooLong(p: PreparedRequest, waitMs: number, reason: string, cause?: HttpError): HttpError {
    const message =
      `${p.method} ${p.shownUrl}: told to wait ${formatDuration(waitMs)} (${reason}), more than the ` +
      `${formatDuration(this.settings.maxRetryAfterMs)} allowed by settings.maxRetryAfterMs; giving up so the run ends with its checkpoint intact`;
    return this.error(
      p,
      "wait_too_long",
      message,
      { retryable: false, retryAfterMs: waitMs, status: cause?.status, bodySnippet: cause?.bodySnippet },
      cause,
    );
  }

  private snippet(p: PreparedRequest, text: string): string {
    return p.redactor.text(oneLine(text.slice(0, SNIPPET_LENGTH * 2))).slice(0, SNIPPET_LENGTH);
  }

  private error(
    p: PreparedRequest,
    kind: HttpErrorKind,
    message: string,
    extra: { retryable: boolean; status?: number; retryAfterMs?: number; bodySnippet?: string; code?: string; credentialsRejected?: boolean; unreachable?: boolean },
    cause?: unknown,
  ): HttpError {
    return new HttpError(p.redactor.text(message), { kind, method: p.method, url: p.shownUrl, ...extra }, { cause });
  }

  private count(metric: RequestMetric, amount: number): void {
    this.runtime.observer?.()?.count(metric, amount);
  }

  private log(level: LogLevel, message: string): void {
    this.runtime.observer?.()?.log(level, this.redactor.text(message));
  }
}
