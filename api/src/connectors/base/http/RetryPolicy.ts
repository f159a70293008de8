export interface RetrySettings {
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Exponential backoff: attempt n waits up to base × 2^(n-1), never more than `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Floor of every backoff wait, so a `Retry-After: 0` or an unlucky jitter cannot hot-loop. */
  minDelayMs: number;
}

/** Status codes worth retrying: rate limited, request timeout, and server-side failures. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

/** Error codes of transient network failures (resets, refusals, DNS hiccups, socket timeouts). */
const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

const DESCRIPTIONS: Record<string, string> = {
  ECONNRESET: "connection reset",
  ECONNREFUSED: "connection refused",
  EPIPE: "connection closed while sending",
  ENOTFOUND: "DNS lookup failed",
  EAI_AGAIN: "DNS lookup failed (temporary)",
  UND_ERR_SOCKET: "connection dropped",
  UND_ERR_CLOSED: "connection closed",
  UND_ERR_CONNECT_TIMEOUT: "connect timeout",
};

/**
 * Codes of a connection that could not be made at all: no address, nobody listening, no route,
 * a TLS handshake refused. Every request of the data source would meet the same wall.
 */
const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_CONNECT_TIMEOUT",
]);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$)/;

export interface NetworkFailure {
  code?: string;
  description: string;
  transient: boolean;
  /** The connection was never made (DNS, refused, unreachable, TLS, a port fetch refuses to use). */
  connect: boolean;
}

/** Reads what undici's "fetch failed" / "terminated" TypeError wraps. */
export function describeNetworkError(err: unknown): NetworkFailure {
  let cause: unknown = err;
  let code: string | undefined;
  let message = err instanceof Error ? err.message : String(err);
  let innermost = message;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth++) {
    innermost = cause.message || innermost;
    const c = (cause as { code?: unknown }).code;
    if (typeof c === "string") {
      code = c;
      message = cause.message;
      break;
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  if (!code && err instanceof Error && err.message === "terminated") {
    // undici ends a body cut short by the peer with a bare "terminated".
    return { description: "connection dropped mid-response", transient: true, connect: false };
  }
  if (!code && innermost === "bad port") {
    // The Fetch standard's blocked ports (e.g. 1, 9, 25): no request is ever sent.
    return { description: "the port is one fetch refuses to connect to (bad port)", transient: false, connect: true };
  }
  // undici's "fetch failed" says nothing by itself: the innermost cause says what happened.
  const description = code ? `${DESCRIPTIONS[code] ?? message} (${code})` : message === innermost ? message : `${message}: ${innermost}`;
  const connect = code !== undefined && (CONNECT_CODES.has(code) || TLS_CODE.test(code));
  return { code, description, transient: code !== undefined && TRANSIENT_CODES.has(code), connect };
}

/** Exponential backoff with full jitter (uniform in [0, cap]), floored at `minDelayMs`. */
export function backoffDelay(attempt: number, settings: RetrySettings, random: () => number = Math.random): number {
  const cap = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(settings.minDelayMs, Math.round(random() * cap));
}

/**
 * The wait the server asked for, with a little jitter so clients told the same instant do not
 * return together, and a small guard against timers firing a hair early. Zero means "no
 * instruction": the caller falls back to backoff.
 */
export function serverDelay(retryAfterMs: number, random: () => number = Math.random): number {
  if (retryAfterMs <= 0) return 0;
  return retryAfterMs + 10 + Math.round(random() * Math.min(1000, retryAfterMs * 0.05));
}
