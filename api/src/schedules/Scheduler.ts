import type { ClaimedFire, FireOutcome, ScheduleStore } from "../store/ScheduleStore";
import { decideSlot, MISFIRE_GRACE_MS } from "./misfire";
import type { RunLauncher } from "./RunLauncher";

/** How often a scheduler looks for due slots, before jitter. */
export const DEFAULT_TICK_MS = 10_000;
const MIN_TICK_MS = 10;
const MAX_TICK_MS = 60_000;

export interface SchedulerOptions {
  /** Between ticks, jittered by ±25 % so schedulers of several processes do not tick in step. */
  tickMs?: number;
  graceMs?: number;
  log?: (line: string) => void;
}

export interface FireReport {
  source: string;
  slot: string | null;
  outcome: FireOutcome;
}

/** The tick interval from MAKO_SCHEDULER_TICK_MS (tests and tuning), else 10 s. */
export function tickMsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const ms = Number(env.MAKO_SCHEDULER_TICK_MS);
  if (!env.MAKO_SCHEDULER_TICK_MS || !Number.isFinite(ms)) return DEFAULT_TICK_MS;
  return Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, ms));
}

/**
 * Fires due schedules: at each tick, claims them in one transaction of the store (the next
 * slot written from the database's clock), then launches each claimed fire. Any number of
 * schedulers, in any processes, can share one store: a slot is claimed once.
 */
export class Scheduler {
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<unknown>;
  private stopped = true;
  private lastProblem?: string;
  private readonly tickMs: number;
  private readonly graceMs: number;
  private readonly log: (line: string) => void;

  constructor(
    private readonly store: ScheduleStore,
    private readonly launcher: RunLauncher,
    options: SchedulerOptions = {},
  ) {
    this.tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.graceMs = options.graceMs ?? MISFIRE_GRACE_MS;
    this.log = options.log ?? (() => {});
  }

  /** Ticks until stop(); the first tick comes within one (jittered) interval. */
  start(): this {
    if (!this.stopped) return this;
    this.stopped = false;
    this.arm();
    return this;
  }

  /** Stops ticking; resolves once a tick under way has launched what it claimed. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking?.catch(() => {});
  }

  /** One tick: claim what is due, launch it, record how each launch went. */
  async tick(): Promise<FireReport[]> {
    const fires = await this.store.claimDue((schedule, now) => decideSlot(schedule, now, this.graceMs));
    const reports: FireReport[] = [];
    for (const fire of fires) reports.push(await this.fire(fire));
    return reports;
  }

  private async fire({ schedule, slot }: ClaimedFire): Promise<FireReport> {
    let outcome: FireOutcome;
    try {
      const launched = await this.launcher.launch(schedule.source, { trigger: "schedule" });
      outcome = "busy" in launched ? { busy: true } : { runId: launched.runId };
    } catch (err) {
      outcome = { error: err instanceof Error ? err.message : String(err) };
      this.log(`schedule of "${schedule.source}": could not start a run: ${outcome.error}`);
    }
    await this.store.recordFire(schedule.source, outcome);
    return { source: schedule.source, slot, outcome };
  }

  private arm(): void {
    if (this.stopped) return;
    const wait = this.tickMs * (0.75 + Math.random() * 0.5);
    this.timer = setTimeout(() => {
      this.ticking = this.tick().then(
        () => {
          if (this.lastProblem) this.log("schedules: ticking again");
          this.lastProblem = undefined;
        },
        (err: Error) => {
          // The database gone for a while (a restart): said once, retried at every tick.
          if (err.message !== this.lastProblem) this.log(`schedules: a tick failed (retrying): ${err.message}`);
          this.lastProblem = err.message;
        },
      );
      void this.ticking.finally(() => this.arm());
    }, wait);
    // A scheduler alone does not keep a process alive: the server does.
    this.timer.unref();
  }
}
