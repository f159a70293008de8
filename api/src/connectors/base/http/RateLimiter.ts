import { abortableDelay } from "./abortableDelay";
import type { QuotaHint, QuotaPolicy } from "./quotaHeaders";
import { Semaphore } from "./Semaphore";
import type { SlotPace, SlotSource } from "./SlotSource";
import { TokenBucketSlots } from "./TokenBucketSlots";

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
 * Paces the requests of one data source: a cap on requests in flight, a minimum spacing,
 * pauses the server imposes (Retry-After, an exhausted quota), and slots from a `SlotSource`
 * (this process's token bucket, or a budget shared by every process). Requests queue in
 * order; only the head of the queue waits for a slot, so waiters do not stampede.
 */
export class RateLimiter {
  private readonly slotSource: SlotSource;
  private readonly requestsInFlight: Semaphore;
  /** Serialises the wait for a slot: one waiter at a time, in arrival order. */
  private readonly gate = new Semaphore(1);
  private pausedUntil = 0;
  private pauseReason = "";
  private lastStartAt = -Infinity;
  /** A pace the server advertised (RateLimit-Policy); slots never come faster. */
  private ceiling?: QuotaPolicy;

  constructor(
    private config: RateLimiterConfig,
    slotSource?: SlotSource,
  ) {
    this.requestsInFlight = new Semaphore(config.maxConcurrentRequests);
    this.slotSource = slotSource ?? new TokenBucketSlots(this.pace());
    if (slotSource) slotSource.setPace(this.pace());
    // Another process was told to stop: drop what this one holds and wait too.
    this.slotSource.onRemotePause?.((ms, reason) => this.holdPause(Date.now() + ms, reason));
  }

  get settings(): Readonly<RateLimiterConfig> {
    return this.config;
  }

  get inFlight(): number {
    return this.requestsInFlight.inUse;
  }

  /** Whether slots come from a budget shared with other processes. */
  get shared(): boolean {
    return this.slotSource.shared;
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
    this.slotSource.setPace(this.pace());
    this.requestsInFlight.setLimit(config.maxConcurrentRequests);
  }

  /** The settings' pace, or the server's advertised one where slower. */
  private pace(): SlotPace {
    return {
      requestsPerSecond: Math.min(this.config.requestsPerSecond, this.ceiling?.requestsPerSecond ?? Infinity),
      burst: Math.min(this.config.burst, this.ceiling?.burst ?? Infinity),
      minSpacingMs: this.config.minSpacingMs,
    };
  }

  /** The rate slots come at: the settings', or the server's advertised pace when slower, after 429 slow-downs. */
  get effectiveRate(): number {
    const rate = this.pace().requestsPerSecond;
    const factor = this.slotSource.factor;
    return factor < 1 && Number.isFinite(rate) ? rate * factor : rate;
  }

  /**
   * A 429: halve the pace and the burst (down to 1/32) so the source stops walking into the
   * limit, and earn no slot before `resumeAt`. Returns the new rate.
   */
  slowDown(resumeAt = Date.now()): number {
    this.slotSource.slowDown(Math.max(0, resumeAt - Date.now()));
    return this.effectiveRate;
  }

  /** A success: win back 2% of the pace, so it returns to the settings' after ~35 successes per halving. */
  recover(): void {
    this.slotSource.recover();
  }

  /**
   * Adopts a pace the server advertises when it is slower than the settings'. Returns true
   * when that changed the pace (the caller logs it once).
   */
  applyPolicy(policy: QuotaPolicy): boolean {
    const c = this.ceiling;
    if (c && c.requestsPerSecond === policy.requestsPerSecond && c.burst === policy.burst) return false;
    const before = this.effectiveRate;
    this.ceiling = policy;
    this.slotSource.setPace(this.pace());
    return this.effectiveRate !== before;
  }

  /**
   * Waits for a free slot, then for the pause, the spacing and a slot of the budget. Throws
   * `LimiterWaitTooLong` instead of waiting more than `maxWaitMs`, the signal's reason when it
   * aborts, and `RateLimitBackendError` when a shared budget cannot be reached.
   */
  async acquire(options: { signal?: AbortSignal; maxWaitMs?: number } = {}): Promise<LimiterPermit> {
    const { signal, maxWaitMs = Infinity } = options;
    await this.requestsInFlight.acquire(signal);
    let waitedMs = 0;
    let pauseReason: string | undefined;
    let lateSlotDropped = false;
    const wait = async (ms: number) => {
      await abortableDelay(ms, signal);
      waitedMs += ms;
    };
    try {
      await this.gate.acquire(signal);
      try {
        for (;;) {
          const now = Date.now();
          const pauseMs = this.pausedUntil - now;
          const localMs = Math.max(pauseMs, this.lastStartAt + this.config.minSpacingMs - now);
          if (localMs > 0) {
            if (pauseMs > 0 && pauseMs >= localMs) pauseReason = this.pauseReason;
            if (localMs > maxWaitMs) throw new LimiterWaitTooLong(localMs, pauseMs >= localMs ? this.pauseReason : "rateLimitDelay");
            await wait(localMs);
            continue;
          }
          const grant = await this.slotSource.reserve(maxWaitMs);
          if (grant.waitMs > maxWaitMs) {
            const reason = this.slotSource.shared ? "the rate limit shared with other processes" : "token bucket";
            throw new LimiterWaitTooLong(grant.waitMs, reason);
          }
          if (!grant.held) {
            await wait(grant.waitMs);
            continue;
          }
          if (grant.waitMs > 0) {
            const due = Date.now() + grant.waitMs;
            await wait(grant.waitMs);
            // A pause that arrived meanwhile wins over the slot held: it is dropped, and the
            // next one comes after the pause.
            if (this.pausedUntil > Date.now()) continue;
            // Woken more than an interval late (a starved event loop), the request would land
            // on the next process's slot: give this one up and take a fresh one, once.
            if (!lateSlotDropped && Date.now() - due > Math.max(1000 / this.effectiveRate, this.config.minSpacingMs)) {
              lateSlotDropped = true;
              continue;
            }
          }
          this.lastStartAt = Date.now();
          break;
        }
      } finally {
        this.gate.release();
      }
    } catch (err) {
      this.requestsInFlight.release();
      throw err;
    }
    let released = false;
    return {
      waitedMs,
      pauseReason,
      release: () => {
        if (released) return;
        released = true;
        this.requestsInFlight.release();
      },
    };
  }

  /** No request of this data source starts before `until` (epoch ms); a later pause wins. */
  pauseUntil(until: number, reason: string): void {
    if (this.holdPause(until, reason)) this.slotSource.pause(until - Date.now(), reason);
  }

  /** Holds a pause in this process only; true when it extended the current one. */
  private holdPause(until: number, reason: string): boolean {
    if (until <= this.pausedUntil) return false;
    this.pausedUntil = until;
    this.pauseReason = reason;
    return true;
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
    const othersInFlight = Math.max(0, this.requestsInFlight.inUse - 1);
    const left = hint.remaining - othersInFlight;
    if (left > 0) {
      this.slotSource.clamp(left);
      return 0;
    }
    this.slotSource.clamp(0);
    if (hint.resetMs <= 0) return 0;
    const until = now + hint.resetMs;
    const before = this.pausedUntil;
    this.pauseUntil(until, `${hint.source} quota used up`);
    return this.pausedUntil > before ? hint.resetMs : 0;
  }
}
