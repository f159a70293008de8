export { HttpClient, type HttpClientRuntime } from "./HttpClient";
export { HttpError, type HttpErrorKind } from "./HttpError";
export type { HttpClientOptions, HttpRequest, HttpResponse, QueryValue, VendorError } from "./types";
export { RateLimiter, LimiterWaitTooLong, type RateLimiterConfig } from "./RateLimiter";
export { sharedRateLimiter, rateLimiterKey, useSlotSources } from "./limiterRegistry";
export { RateLimitBackendError, type SlotSource, type SlotSourceFactory, type SlotPace, type SlotGrant } from "./SlotSource";
export { TokenBucketSlots } from "./TokenBucketSlots";
export {
  resolveLimiterConfig,
  resolveClientSettings,
  resolveRateLimitGroup,
  DEFAULT_CLIENT_SETTINGS,
  type ClientSettings,
} from "./httpSettings";
export { parseRetryAfter } from "./retryAfter";
export { parseQuotaHeaders, parseQuotaPolicy, type QuotaHint, type QuotaPolicy } from "./quotaHeaders";
export { SecretRedactor } from "./SecretRedactor";
export { connectionFailureMessage, entityFailure } from "./failureMessages";
