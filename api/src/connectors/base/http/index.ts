export { HttpClient, type HttpClientRuntime } from "./HttpClient";
export { HttpError, type HttpErrorKind } from "./HttpError";
export type { HttpClientOptions, HttpRequest, HttpResponse, QueryValue } from "./types";
export { RateLimiter, LimiterWaitTooLong, type RateLimiterConfig } from "./RateLimiter";
export { sharedRateLimiter, rateLimiterKey } from "./limiterRegistry";
export { resolveLimiterConfig, resolveClientSettings, DEFAULT_CLIENT_SETTINGS, type ClientSettings } from "./httpSettings";
export { parseRetryAfter } from "./retryAfter";
export { parseQuotaHeaders, parseQuotaPolicy, type QuotaHint, type QuotaPolicy } from "./quotaHeaders";
export { SecretRedactor } from "./SecretRedactor";
