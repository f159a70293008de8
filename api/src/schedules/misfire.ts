import type { ScheduleRecord, SlotDecision } from "../store/ScheduleStore";
import { nextSlot } from "./cron";

/**
 * How late a slot may fire under misfire `skip`: a tick comes every ~10 s (jittered), and a
 * busy or restarting process can lag further; a slot missed by more than this (the scheduler
 * was down) is skipped. Under `coalesce` every missed slot folds into one fire.
 */
export const MISFIRE_GRACE_MS = 60_000;

/**
 * What a reached slot does at the database's `now`: the next slot is the cron's first after
 * now (so any number of missed slots fire at most once), and the slot fires unless the
 * schedule skips misfires and it is older than the grace period.
 */
export function decideSlot(schedule: Pick<ScheduleRecord, "cron" | "timezone" | "misfire" | "nextFireAt">, now: Date, graceMs = MISFIRE_GRACE_MS): SlotDecision {
  const late = schedule.nextFireAt === null ? 0 : now.getTime() - Date.parse(schedule.nextFireAt);
  return {
    nextFireAt: nextSlot(schedule.cron, schedule.timezone, now),
    fire: schedule.misfire === "coalesce" || late <= graceMs,
  };
}
