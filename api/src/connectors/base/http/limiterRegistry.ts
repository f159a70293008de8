import { RateLimiter, type RateLimiterConfig } from "./RateLimiter";
import type { SlotSourceFactory } from "./SlotSource";

/**
 * One limiter per limiter key in this process, so every entity and every client of a source
 * (or of a `rateLimitGroup`) draws on the same budget. Its slots come from the in-process
 * token bucket, or from the shared backend registered with `useSlotSources`.
 */
const limiters = new Map<string, RateLimiter>();
/** Registered shared backends, the latest in use; empty: the in-process bucket. */
const factories: SlotSourceFactory[] = [];

/**
 * The budget a data source draws on: its own (connector id and source name), or its
 * `rateLimitGroup`'s, shared with every source of the group.
 */
export function rateLimiterKey(connectorId: string, dataSourceName: string, group?: string): string {
  return group ? `group:${group}` : `source:${connectorId}/${dataSourceName}`;
}

/** The data source's limiter, created on first use; later calls apply changed settings. */
export function sharedRateLimiter(key: string, config: RateLimiterConfig): RateLimiter {
  let limiter = limiters.get(key);
  if (limiter) limiter.configure(config);
  else {
    const factory = factories.at(-1);
    limiter = new RateLimiter(config, factory?.(key));
    limiters.set(key, limiter);
  }
  return limiter;
}

/**
 * Makes limiters created from now on take their slots from `factory` (a budget shared by every
 * process, e.g. in PostgreSQL). Returns the call that unregisters it. Limiters already handed
 * out keep their source; the registry forgets them so the next clients get the new one.
 */
export function useSlotSources(factory: SlotSourceFactory): () => void {
  factories.push(factory);
  limiters.clear();
  return () => {
    const i = factories.lastIndexOf(factory);
    if (i < 0) return;
    factories.splice(i, 1);
    limiters.clear();
  };
}
