/** The fake API's own token bucket: the limit a client must respect. */
export class ServerBucket {
  private tokens: number;
  private at = Date.now();

  constructor(
    readonly requestsPerSecond: number,
    readonly burst: number,
  ) {
    this.tokens = burst;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.requestsPerSecond);
    this.at = now;
  }

  /** Takes a token if there is one. */
  tryTake(now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  remaining(now = Date.now()): number {
    this.refill(now);
    return Math.max(0, Math.floor(this.tokens));
  }

  /** Milliseconds until one whole token is back. */
  msUntilToken(now = Date.now()): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.requestsPerSecond) * 1000;
  }

  /** Milliseconds until the bucket is full again (what "reset" means for a token bucket). */
  msUntilFull(now = Date.now()): number {
    this.refill(now);
    return ((this.burst - this.tokens) / this.requestsPerSecond) * 1000;
  }
}
