/**
 * A token bucket: `capacity` tokens at most, refilled continuously at `rate` per second.
 * The rate may be lowered for a while (a server's quota hint), so refills take the rate to use.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private rate: number,
    private capacity: number,
    now = Date.now(),
  ) {
    this.tokens = capacity;
    this.refilledAt = now;
  }

  configure(rate: number, capacity: number, now = Date.now()): void {
    this.refill(now);
    this.rate = rate;
    this.capacity = capacity;
    this.tokens = Math.min(this.tokens, capacity);
  }

  get available(): number {
    return this.tokens;
  }

  /** Adds the tokens earned since the last refill, at `rate` (default: the bucket's own). */
  refill(now = Date.now(), rate = this.rate): void {
    // Drained until a later instant: nothing accrues before it.
    if (now < this.refilledAt) return;
    const elapsed = Math.max(0, now - this.refilledAt) / 1000;
    // An unlimited rate is always full (0 × Infinity would be NaN).
    this.tokens = rate === Infinity ? this.capacity : Math.min(this.capacity, this.tokens + elapsed * rate);
    this.refilledAt = now;
  }

  /** Milliseconds until a whole token is there (0 when one is there now). */
  delayUntilToken(now = Date.now(), rate = this.rate): number {
    this.refill(now, rate);
    if (this.tokens >= 1 || rate === Infinity) return 0;
    if (rate <= 0) return Infinity;
    return Math.ceil(((1 - this.tokens) / rate) * 1000);
  }

  take(now = Date.now(), rate = this.rate): void {
    this.refill(now, rate);
    this.tokens -= 1;
  }

  /** Empty, and earning nothing before `until` (a server-imposed pause): no burst when it ends. */
  drainUntil(until: number, now = Date.now()): void {
    this.refill(now);
    this.tokens = Math.min(this.tokens, 0);
    this.refilledAt = Math.max(this.refilledAt, until);
  }

  /** The server says only `n` requests are left: never burst past that. */
  clampTo(n: number, now = Date.now(), rate = this.rate): void {
    this.refill(now, rate);
    this.tokens = Math.min(this.tokens, n);
  }
}
