import { MISFIRE_POLICIES, type Misfire, type ScheduleRecord, type ScheduleStore } from "../store/ScheduleStore";
import { localTimeZone, nextSlot, nextSlots, ScheduleInputError, validCron, validTimeZone } from "./cron";

/** A schedule with its upcoming slots. */
export interface ScheduleView extends ScheduleRecord {
  /** The next three slots (UTC ISO), none while paused. */
  nextFireTimes: string[];
}

export interface ScheduleInput {
  cron: string;
  /** IANA zone the cron is read in; this process's zone by default. */
  timezone?: string;
  misfire?: string;
}

const UPCOMING = 3;

/** Sources' schedules as the CLI and the API change them: validated, then kept in the store. */
export class Schedules {
  constructor(private readonly store: ScheduleStore) {}

  /** Creates or replaces a source's schedule; a paused one stays paused. */
  async set(source: string, input: ScheduleInput): Promise<ScheduleView> {
    const timezone = validTimeZone(input.timezone ?? localTimeZone());
    const cron = validCron(input.cron, timezone);
    const misfire = validMisfire(input.misfire ?? "coalesce");
    const stored = await this.store.put({ source, cron, timezone, misfire }, (now) => nextSlot(cron, timezone, now));
    return withUpcoming(stored);
  }

  async get(source: string): Promise<ScheduleView> {
    return withUpcoming(await this.store.get(source));
  }

  async find(source: string): Promise<ScheduleView | null> {
    const found = await this.store.find(source);
    return found && withUpcoming(found);
  }

  async list(): Promise<ScheduleView[]> {
    return (await this.store.list()).map(withUpcoming);
  }

  /** No fire until resumed; a fire waiting for a running sync is dropped. */
  async pause(source: string): Promise<ScheduleView> {
    return withUpcoming(await this.store.setPaused(source, true, () => null));
  }

  /** Fires again from the next slot after now: slots that passed while paused do not fire. */
  async resume(source: string): Promise<ScheduleView> {
    const current = await this.store.get(source);
    return withUpcoming(await this.store.setPaused(source, false, (now) => nextSlot(current.cron, current.timezone, now)));
  }

  remove(source: string): Promise<void> {
    return this.store.remove(source);
  }
}

function validMisfire(input: string): Misfire {
  if ((MISFIRE_POLICIES as readonly string[]).includes(input)) return input as Misfire;
  throw new ScheduleInputError(`invalid misfire ${JSON.stringify(String(input).slice(0, 40))}: use ${MISFIRE_POLICIES.join(" or ")}`, "misfire");
}

function withUpcoming(schedule: ScheduleRecord): ScheduleView {
  if (schedule.paused || !schedule.nextFireAt) return { ...schedule, nextFireTimes: [] };
  const first = new Date(schedule.nextFireAt);
  let later: Date[] = [];
  try {
    later = nextSlots(schedule.cron, schedule.timezone, first, UPCOMING - 1);
  } catch {
    // A zone this machine no longer knows: the stored next slot is all there is to show.
  }
  return { ...schedule, nextFireTimes: [first, ...later].map((d) => d.toISOString()) };
}
