import { RateLimiter, type RateLimiterConfig } from "./RateLimiter";

/**
 * One limiter per data source in this process, so every entity and every client of a source
 * draws on the same budget. Keyed by connector id and data source name.
 */
const limiters = new Map<string, RateLimiter>();

export function rateLimiterKey(connectorId: string, dataSourceName: string): string {
  return `${connectorId}\u0000${dataSourceName}`;
}

/** The data source's limiter, created on first use; later calls apply changed settings. */
export function sharedRateLimiter(key: string, config: RateLimiterConfig): RateLimiter {
  let limiter = limiters.get(key);
  if (limiter) limiter.configure(config);
  else {
    limiter = new RateLimiter(config);
    limiters.set(key, limiter);
  }
  return limiter;
}
