import type { DataSourceSettings } from "../types";
import type { RateLimiterConfig } from "./RateLimiter";
import type { RetrySettings } from "./RetryPolicy";

/** A vendor's documented limit (the shape of `BaseConnector.getDefaultRateLimit()`). */
export interface RateLimitDefaultsLike {
  requestsPerSecond: number;
  burst?: number;
  maxConcurrentRequests?: number;
}

export interface ClientSettings extends RetrySettings {
  requestTimeoutMs: number;
  /** A server asking to wait longer than this fails the request at once ("wait_too_long"). */
  maxRetryAfterMs: number;
  /** A response body larger than this is not read further ("too_large"). */
  maxResponseBytes: number;
}

export const DEFAULT_CLIENT_SETTINGS: ClientSettings = {
  maxRetries: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  minDelayMs: 100,
  requestTimeoutMs: 30_000,
  maxRetryAfterMs: 10 * 60_000,
  maxResponseBytes: 64 * 1024 * 1024,
};

const DEFAULT_MAX_CONCURRENT = 4;

/** Reads an optional number setting; anything but a finite number ≥ `min` is a one-line error. */
function numberSetting(settings: DataSourceSettings, field: string, min: number): number | undefined {
  const value = settings[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new Error(`settings.${field} must be a number ≥ ${min} (got ${JSON.stringify(value)})`);
  }
  return value;
}

/** The limiter of a data source from its settings, falling back on the connector's documented limit. */
export function resolveLimiterConfig(settings: DataSourceSettings, defaults: RateLimitDefaultsLike): RateLimiterConfig {
  const userRate = numberSetting(settings, "requestsPerSecond", 0);
  // 0 requests per second from a user means "no limit" rather than "never".
  const rate = userRate === 0 ? Infinity : (userRate ?? defaults.requestsPerSecond);
  const ownBurst = Number.isFinite(rate) ? Math.max(1, Math.ceil(rate)) : 1_000_000;
  const burst =
    numberSetting(settings, "burst", 1) ?? (userRate !== undefined ? ownBurst : (defaults.burst ?? ownBurst));
  return {
    requestsPerSecond: rate,
    burst,
    maxConcurrentRequests:
      numberSetting(settings, "maxConcurrentRequests", 1) ?? defaults.maxConcurrentRequests ?? DEFAULT_MAX_CONCURRENT,
    minSpacingMs: numberSetting(settings, "rateLimitDelay", 0) ?? 0,
  };
}

/** What a `rateLimitGroup` may be called: it becomes part of a key shared across processes. */
export const RATE_LIMIT_GROUP = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** The data source's `rateLimitGroup`, if any; anything but a valid name is a one-line error. */
export function resolveRateLimitGroup(settings: DataSourceSettings): string | undefined {
  const group = settings.rateLimitGroup;
  if (group === undefined || group === null) return undefined;
  if (typeof group !== "string" || !RATE_LIMIT_GROUP.test(group)) {
    const shown = typeof group === "string" ? JSON.stringify(group.slice(0, 80)) : typeof group;
    throw new Error(`settings.rateLimitGroup must be 1-63 lowercase letters, digits, "_", "-" or "." (got ${shown})`);
  }
  return group;
}

/** Retries, timeout and wait cap from a data source's settings. */
export function resolveClientSettings(settings: DataSourceSettings): ClientSettings {
  const d = DEFAULT_CLIENT_SETTINGS;
  return {
    maxRetries: numberSetting(settings, "maxRetries", 0) ?? d.maxRetries,
    baseDelayMs: numberSetting(settings, "retryBaseDelayMs", 0) ?? d.baseDelayMs,
    maxDelayMs: numberSetting(settings, "retryMaxDelayMs", 0) ?? d.maxDelayMs,
    minDelayMs: numberSetting(settings, "retryMinDelayMs", 1) ?? d.minDelayMs,
    requestTimeoutMs: numberSetting(settings, "requestTimeoutMs", 1) ?? d.requestTimeoutMs,
    maxRetryAfterMs: numberSetting(settings, "maxRetryAfterMs", 0) ?? d.maxRetryAfterMs,
    maxResponseBytes: numberSetting(settings, "maxResponseBytes", 1) ?? d.maxResponseBytes,
  };
}
