import type { SlotGrant, SlotPace, SlotSource } from "./SlotSource";
import { TokenBucket } from "./TokenBucket";

/**
 * The in-process slot source: a token bucket at the pace times the AIMD factor. Slots are
 * never taken ahead: the limiter asks again once a token is due.
 */
export class TokenBucketSlots implements SlotSource {
  readonly shared = false;
  private readonly bucket: TokenBucket;
  private pace: SlotPace;
  private backoffFactor = 1;

  constructor(pace: SlotPace) {
    this.pace = pace;
    this.bucket = new TokenBucket(pace.requestsPerSecond, pace.burst);
  }

  get factor(): number {
    return this.backoffFactor;
  }

  setPace(pace: SlotPace): void {
    this.pace = pace;
    this.configure();
  }

  private configure(): void {
    const rate = this.pace.requestsPerSecond;
    this.bucket.configure(
      this.backoffFactor < 1 && Number.isFinite(rate) ? rate * this.backoffFactor : rate,
      Math.max(1, Math.floor(this.pace.burst * this.backoffFactor)),
    );
  }

  reserve(): SlotGrant {
    const now = Date.now();
    const waitMs = this.bucket.delayUntilToken(now);
    if (waitMs > 0) return { waitMs, held: false };
    this.bucket.take(now);
    return { waitMs: 0, held: true };
  }

  /** The limiter holds plain pauses itself; the bucket keeps earning (a quota reset refills it). */
  pause(): void {}

  slowDown(ms: number): void {
    this.backoffFactor = Math.max(1 / 32, this.backoffFactor / 2);
    this.configure();
    // The server has no tokens for us: start from empty when the pause ends, not with a burst.
    this.bucket.drainUntil(Date.now() + ms);
  }

  recover(): void {
    if (this.backoffFactor >= 1) return;
    this.backoffFactor = Math.min(1, this.backoffFactor * 1.02);
    this.configure();
  }

  clamp(n: number): void {
    this.bucket.clampTo(n);
  }
}
