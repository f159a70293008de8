/**
 * Where a data source's request slots come from. `RateLimiter` stays the local front (FIFO,
 * requests in flight, spacing, header parsing); a slot source is the budget behind it: the
 * in-process token bucket by default (`TokenBucketSlots`), or a backend shared by every
 * process syncing the source, registered with `useSlotSources`. The SDK defines the contract
 * and never depends on an implementation outside it.
 */
export interface SlotSource {
  /** True when the budget lives outside this process (a round trip per slot). */
  readonly shared: boolean;
  /** Fraction of the pace kept after unexplained 429s (1 when none); a shared source's last known. */
  readonly factor: number;
  /** The pace to hand out slots at; called when the settings or the server's advertised pace change. */
  setPace(pace: SlotPace): void;
  /**
   * The next slot. `held: true`: it is taken for `waitMs` from now (a caller that gives up loses
   * it). `held: false`: nothing was taken; ask again after `waitMs`. A slot more than
   * `maxWaitMs` away is never taken. Rejects with `RateLimitBackendError` when a shared budget
   * cannot be reached.
   */
  reserve(maxWaitMs: number): SlotGrant | Promise<SlotGrant>;
  /** The server stopped the source for `ms` (Retry-After, a spent quota). */
  pause(ms: number, reason: string): void;
  /** A 429 the server did not explain: halve the pace (down to 1/32), no burst after `ms`. */
  slowDown(ms: number): void;
  /** A success: win back 2% of the pace. */
  recover(): void;
  /** The server says only `n` requests are left: never burst past that. */
  clamp(n: number): void;
  /** A shared source calls `listener` with pauses other processes set, so held slots are dropped. */
  onRemotePause?(listener: (ms: number, reason: string) => void): void;
}

/** The pace a data source asks for: its settings', or the server's advertised pace when slower. */
export interface SlotPace {
  /** Infinity for no limit. */
  requestsPerSecond: number;
  burst: number;
  /** The `rateLimitDelay` setting: minimum spacing between request starts. */
  minSpacingMs: number;
}

export interface SlotGrant {
  waitMs: number;
  held: boolean;
}

/** Makes the slot source of a data source, by limiter key. */
export type SlotSourceFactory = (key: string) => SlotSource;

/**
 * A shared budget could not be reached (its database is down): retryable, since sending without
 * a slot would break the limit every process relies on.
 */
export class RateLimitBackendError extends Error {
  readonly retryable = true;
}
