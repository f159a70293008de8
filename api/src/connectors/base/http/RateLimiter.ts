import { abortableDelay } from "./abortableDelay";
import type { QuotaHint, QuotaPolicy } from "./quotaHeaders";
import { Semaphore } from "./Semaphore";
import { TokenBucket } from "./TokenBucket";

export interface RateLimiterConfig {
  /** Sustained requests per second; Infinity for no limit. */
  requestsPerSecond: number;
  burst: number;
  maxConcurrentRequests: number;
  /** Minimum spacing between request starts (the `rateLimitDelay` setting). */
  minSpacingMs: number;
}

/** The limiter would have to wait longer than the caller allows. */
export class LimiterWaitTooLong extends Error {
  constructor(
    readonly waitMs: number,
    readonly reason: string,
  ) {
    super(`the rate limiter would wait ${waitMs} ms (${reason})`);
  }
}

export interface LimiterPermit {
  /** Time spent waiting for a token, spacing or a server-imposed pause (not for a free slot). */
  waitedMs: number;
  /** Why the longest part of the wait happened, when it was a server-imposed pause. */
  pauseReason?: string;
  /** Frees the in-flight slot; call once the response is read. */
  release(): void;
}

/**
 * Paces the requests of one data source: a token bucket, a cap on requests in flight, a
 * minimum spacing, and pauses the server imposes (Retry-After, an exhausted quota). Requests
 * queue in order; only the head of the queue waits for a token, so waiters do not stampede.
 */
export class RateLimiter {
  private readonly bucket: TokenBucket;
  private readonly slots: Semaphore;
  /** Serialises the wait for a token: one waiter at a time, in arrival order. */
  private readonly gate = new Semaphore(1);
  private pausedUntil = 0;
  private pauseReason = "";
  private lastStartAt = -Infinity;
  /** A pace the server advertised (RateLimit-Policy); the bucket never runs faster. */
  private ceiling?: QuotaPolicy;
  /** Fraction of the pace kept after 429s the server did not explain (AIMD); 1 when none. */
  private backoffFactor = 1;

  constructor(private config: RateLimiterConfig) {
    this.bucket = new TokenBucket(config.requestsPerSecond, config.burst);
    this.slots = new Semaphore(config.maxConcurrentRequests);
  }

  get settings(): Readonly<RateLimiterConfig> {
    return this.config;
  }

  get inFlight(): number {
    return this.slots.inUse;
  }

  configure(config: RateLimiterConfig): void {
    const c = this.config;
    if (
      c.requestsPerSecond === config.requestsPerSecond &&
      c.burst === config.burst &&
      c.maxConcurrentRequests === config.maxConcurrentRequests &&
      c.minSpacingMs === config.minSpacingMs
    ) {
      return;
    }
    this.config = config;
    this.configureBucket();
    this.slots.setLimit(config.maxConcurrentRequests);
  }

  /** The rate the bucket runs at: the settings', or the server's advertised pace when slower. */
  get effectiveRate(): number {
    const rate = Math.min(this.config.requestsPerSecond, this.ceiling?.requestsPerSecond ?? Infinity);
    return this.backoffFactor < 1 && Number.isFinite(rate) ? rate * this.backoffFactor : rate;
  }

  private configureBucket(): void {
    const burst = Math.min(this.config.burst, this.ceiling?.burst ?? Infinity);
    this.bucket.configure(this.effectiveRate, Math.max(1, Math.floor(burst * this.backoffFactor)));
  }

  /**
   * A 429: halve the pace and the burst (down to 1/32) so the source stops walking into the
   * limit, and earn no token before `resumeAt`. Returns the new rate.
   */
  slowDown(resumeAt = Date.now()): number {
    this.backoffFactor = Math.max(1 / 32, this.backoffFactor / 2);
    this.configureBucket();
    // The server has no tokens for us: start from empty when the pause ends, not with a burst.
    this.bucket.drainUntil(resumeAt);
    return this.effectiveRate;
  }

  /** A success: win back 2% of the pace, so it returns to the settings' after ~35 successes per halving. */
  recover(): void {
    if (this.backoffFactor >= 1) return;
    this.backoffFactor = Math.min(1, this.backoffFactor * 1.02);
    this.configureBucket();
  }

  /**
   * Adopts a pace the server advertises when it is slower than the settings'. Returns true
   * when that changed the bucket (the caller logs it once).
   */
  applyPolicy(policy: QuotaPolicy): boolean {
    const c = this.ceiling;
    if (c && c.requestsPerSecond === policy.requestsPerSecond && c.burst === policy.burst) return false;
    const before = this.effectiveRate;
    this.ceiling = policy;
    this.configureBucket();
    return this.effectiveRate !== before;
  }

  /**
   * Waits for a free slot, then for the pause, the spacing and a token. Throws
   * `LimiterWaitTooLong` instead of waiting more than `maxWaitMs`, and the signal's reason
   * when it aborts.
   */
  async acquire(options: { signal?: AbortSignal; maxWaitMs?: number } = {}): Promise<LimiterPermit> {
    const { signal, maxWaitMs = Infinity } = options;
    await this.slots.acquire(signal);
    let waitedMs = 0;
    let pauseReason: string | undefined;
    try {
      await this.gate.acquire(signal);
      try {
        for (;;) {
          const now = Date.now();
          const pauseMs = this.pausedUntil - now;
          const spacingMs = this.lastStartAt + this.config.minSpacingMs - now;
          const tokenMs = this.bucket.delayUntilToken(now);
          const waitMs = Math.max(pauseMs, spacingMs, tokenMs);
          if (waitMs <= 0) {
            this.bucket.take(now);
            this.lastStartAt = now;
            break;
          }
          if (pauseMs > 0 && pauseMs >= waitMs) pauseReason = this.pauseReason;
          if (waitMs > maxWaitMs) {
            throw new LimiterWaitTooLong(waitMs, pauseMs >= waitMs ? this.pauseReason : "token bucket");
          }
          await abortableDelay(waitMs, signal);
          waitedMs += waitMs;
        }
      } finally {
        this.gate.release();
      }
    } catch (err) {
      this.slots.release();
      throw err;
    }
    let released = false;
    return {
      waitedMs,
      pauseReason,
      release: () => {
        if (released) return;
        released = true;
        this.slots.release();
      },
    };
  }

  /** No request of this data source starts before `until` (epoch ms); a later pause wins. */
  pauseUntil(until: number, reason: string): void {
    if (until > this.pausedUntil) {
      this.pausedUntil = until;
      this.pauseReason = reason;
    }
  }

  /** Milliseconds left of the current pause (0 when none). */
  pauseRemaining(now = Date.now()): number {
    return Math.max(0, this.pausedUntil - now);
  }

  /**
   * Adapts to the quota a response advertised, before the server answers 429: never burst past
   * what is left (counting the other requests in flight, which may not be counted yet), and
   * when nothing is left, pause until the reset. Returns the pause it set, in ms (0 if none).
   */
  applyQuota(hint: QuotaHint, now = Date.now()): number {
    const othersInFlight = Math.max(0, this.slots.inUse - 1);
    const left = hint.remaining - othersInFlight;
    if (left > 0) {
      this.bucket.clampTo(left, now);
      return 0;
    }
    this.bucket.clampTo(0, now);
    if (hint.resetMs <= 0) return 0;
    const until = now + hint.resetMs;
    const before = this.pausedUntil;
    this.pauseUntil(until, `${hint.source} quota used up`);
    return this.pausedUntil > before ? hint.resetMs : 0;
  }
}
