import type { SlotGrant, SlotPace, SlotSource } from "../connectors/base/http/SlotSource";
import type { PostgresRateLimits } from "./PostgresRateLimits";
import { CLAMP, NEXT_SLOT, PAUSE, RESERVE } from "./rateLimitSql";

/** Successes credited in one reservation at most (1.02^200 already restores any factor). */
const MAX_CREDIT = 200;
/** A pause's reason travels to other processes; it is a log line, not a document. */
const MAX_REASON = 300;

/**
 * The slots of one limiter key, reserved in PostgreSQL: one statement per slot. With no limit
 * (no rate, no spacing) nothing is reserved: the backend is not on the request path, and only
 * pauses are shared.
 */
export class PostgresSlotSource implements SlotSource {
  readonly shared = true;
  private knownFactor = 1;
  /** Emission interval at full pace, ms; 0 for no limit. */
  private intervalMs = 0;
  private burst = 1;
  private successes = 0;
  /** The last pause's reason, repeated by the slow-down that follows it. */
  private lastReason = "HTTP 429";
  /** Pauses and clamps not yet written; a reservation waits for them, so it sees them. */
  private pending: Promise<void> = Promise.resolve();
  private readonly listeners: Array<(ms: number, reason: string) => void> = [];

  constructor(
    private readonly backend: PostgresRateLimits,
    readonly key: string,
  ) {}

  get factor(): number {
    return this.knownFactor;
  }

  /**
   * The settings' pace with `rateLimitDelay` folded in, so the spacing too holds across
   * processes: a spacing slower than the rate becomes the interval, with no burst.
   */
  setPace(pace: SlotPace): void {
    const rateInterval = pace.requestsPerSecond > 0 && Number.isFinite(pace.requestsPerSecond) ? 1000 / pace.requestsPerSecond : 0;
    const spacing = Math.max(0, pace.minSpacingMs);
    this.intervalMs = Math.max(rateInterval, spacing);
    this.burst = spacing >= rateInterval ? 1 : Math.max(1, Math.floor(pace.burst));
  }

  private get limited(): boolean {
    return this.intervalMs > 0;
  }

  async reserve(maxWaitMs: number): Promise<SlotGrant> {
    if (!this.limited) return { waitMs: 0, held: true };
    await this.pending;
    const credit = Math.min(this.successes, MAX_CREDIT);
    const rows = await this.backend.query<{ wait_ms: number; start_ms: number; factor: number }>(RESERVE, [
      this.key,
      this.intervalMs,
      this.burst,
      Number.isFinite(maxWaitMs) ? maxWaitMs : null,
      credit,
    ]);
    if (rows[0]) {
      this.successes -= credit;
      this.knownFactor = rows[0].factor;
      this.backend.stats.reservations++;
      this.backend.onReservation?.(this.key, rows[0].start_ms);
      return { waitMs: Math.ceil(rows[0].wait_ms), held: true };
    }
    // Further away than the caller would wait: nothing was taken; say how far.
    this.backend.stats.refused++;
    const next = await this.backend.query<{ wait_ms: number }>(NEXT_SLOT, [this.key, this.intervalMs, this.burst]);
    return { waitMs: Math.max(Math.ceil(next[0]?.wait_ms ?? 0), maxWaitMs + 1), held: false };
  }

  pause(ms: number, reason: string): void {
    if (!(ms > 0)) return;
    this.lastReason = reason.slice(0, MAX_REASON);
    this.write(PAUSE, [this.key, ms, false, this.lastReason, this.backend.id]);
  }

  slowDown(ms: number): void {
    this.knownFactor = Math.max(1 / 32, this.knownFactor / 2);
    this.write(PAUSE, [this.key, ms, true, this.lastReason, this.backend.id]);
  }

  /** Counted here, credited with the next reservation: no statement of its own. */
  recover(): void {
    if (this.limited) this.successes++;
  }

  clamp(n: number): void {
    // The bucket never holds more than the burst: a larger quota left changes nothing.
    if (!this.limited || n >= Math.max(1, Math.floor(this.burst * this.knownFactor))) return;
    this.write(CLAMP, [this.key, Math.max(0, n), this.intervalMs, this.burst]);
  }

  onRemotePause(listener: (ms: number, reason: string) => void): void {
    this.listeners.push(listener);
  }

  /** A pause another process wrote (PauseListener). */
  remotePause(ms: number, reason: string): void {
    const shown = reason ? `${reason}, seen by another process` : "a pause set by another process";
    for (const listener of this.listeners) listener(ms, shown);
  }

  /**
   * Queues a write; it is not awaited by the response that caused it. A write that fails is
   * counted and dropped: this process still holds its pause, and the next reservation meets
   * the outage itself.
   */
  private write(sql: string, params: unknown[]): void {
    this.pending = this.pending.then(async () => {
      try {
        const rows = await this.backend.query<{ factor?: number }>(sql, params, false);
        if (typeof rows[0]?.factor === "number") this.knownFactor = rows[0].factor;
      } catch {
        this.backend.stats.lostUpdates++;
      }
    });
  }
}
