/** `rate_limiter`: the rate limit shared with other processes could not be reached (retryable). */
export type HttpErrorKind = "http" | "timeout" | "network" | "parse" | "wait_too_long" | "too_large" | "rate_limiter";

export interface HttpErrorDetails {
  kind: HttpErrorKind;
  method: string;
  /** Already redacted. */
  url: string;
  status?: number;
  bodySnippet?: string;
  retryable: boolean;
  retryAfterMs?: number;
  /** The vendor's error code, when the client's `readError` found one. */
  code?: string;
  /** Default: status 401 or 403. */
  credentialsRejected?: boolean;
  /** The connection was never made: DNS, refused, unreachable, TLS. */
  unreachable?: boolean;
}

/**
 * A failed request. The engine retries the chunk unless `retryable === false` and honours
 * `retryAfterMs`; the message is one line naming method, redacted URL, status and body start.
 */
export class HttpError extends Error {
  readonly kind: HttpErrorKind;
  readonly status?: number;
  readonly method: string;
  readonly url: string;
  readonly bodySnippet?: string;
  retryable: boolean;
  readonly retryAfterMs?: number;
  readonly credentialsRejected: boolean;
  readonly code?: string;
  /** The connection was never made (DNS, refused, unreachable, TLS): the data source's other requests would meet the same. */
  readonly unreachable: boolean;

  constructor(message: string, details: HttpErrorDetails, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "HttpError";
    this.kind = details.kind;
    this.status = details.status;
    this.method = details.method;
    this.url = details.url;
    this.bodySnippet = details.bodySnippet;
    this.retryable = details.retryable;
    this.retryAfterMs = details.retryAfterMs;
    this.code = details.code;
    this.credentialsRejected = details.credentialsRejected ?? (details.status === 401 || details.status === 403);
    this.unreachable = details.unreachable === true;
  }

  /** The same failure, final: retries are exhausted, so the engine must not retry it blindly. */
  exhausted(retries: number): HttpError {
    return new HttpError(
      `${this.message} (gave up after ${retries} ${retries === 1 ? "retry" : "retries"})`,
      {
        kind: this.kind,
        method: this.method,
        url: this.url,
        status: this.status,
        bodySnippet: this.bodySnippet,
        retryable: false,
        retryAfterMs: this.retryAfterMs,
        code: this.code,
        credentialsRejected: this.credentialsRejected,
        unreachable: this.unreachable,
      },
      { cause: this.cause },
    );
  }
}
