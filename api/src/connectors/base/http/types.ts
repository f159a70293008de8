// The public shapes of the shared HTTP client.

export interface HttpClientOptions {
  /** Requests take paths relative to it, or absolute URLs. */
  baseUrl: string;
  /** Sent with every request, e.g. Authorization. */
  headers?: Record<string, string>;
  /** Added to every request's query string (an API key in the query, an API version). */
  query?: Record<string, string>;
  /** Redacted ("***") from every error message and log line. */
  secrets?: string[];
  /**
   * The vendor's reading of an error response, for APIs whose status alone misleads (BigQuery
   * answers a rate limit with 403 `rateLimitExceeded` and a denied permission with 403
   * `accessDenied`). Called with the status and the whole body; undefined keeps the defaults.
   */
  readError?: (status: number, body: string) => VendorError | undefined;
}

/** What `readError` makes of an error response. */
export interface VendorError {
  /** Overrides the status-based default (429, 408 and 5xx are retried). */
  retryable?: boolean;
  /** The vendor's error code (e.g. `notFound`), kept on the HttpError as `code`. */
  code?: string;
  /** One line shown instead of the raw body (redacted like the rest of the message). */
  message?: string;
}

export type QueryValue = string | number | boolean | undefined;

export interface HttpRequest {
  method?: string;
  path: string;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  /** JSON-encoded. */
  body?: unknown;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  signal?: AbortSignal;
  /** "json" (default) parses the body; "text" returns it as a string. */
  responseType?: "json" | "text";
}

export interface HttpResponse<T> {
  status: number;
  headers: Headers;
  body: T;
  /** The requested URL with secrets redacted. */
  url: string;
}
