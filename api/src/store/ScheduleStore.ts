/**
 * Schedules as the metadata store keeps them: one row per source. The store knows nothing of
 * cron: the caller computes slots (with croner, in api/src/schedules/) from the database's now,
 * which the store hands it inside the transaction that writes them.
 */

/** What a slot missed past the grace period does: fire once (`coalesce`) or not at all (`skip`). */
/** Most schedules one tick claims; the rest wait for the next tick. */
export const CLAIM_LIMIT = 100;

export type Misfire = "coalesce" | "skip";
export const MISFIRE_POLICIES: readonly Misfire[] = ["coalesce", "skip"];

export interface ScheduleRecord {
  source: string;
  cron: string;
  /** IANA zone the cron is read in. */
  timezone: string;
  misfire: Misfire;
  paused: boolean;
  /** The next slot (UTC ISO); null only for a cron that never fires again. */
  nextFireAt: string | null;
  /** When the last slot fired, by the database's clock. */
  lastFireAt: string | null;
  /** The run the last fire started. */
  lastRunId: string | null;
  /** Why the last fire could not start a run (not a run's own failure: that is in its record). */
  lastError: string | null;
  /** A fire waits for the source's running run to end; it fires once when it does. */
  pending: boolean;
  /** Fires folded into a pending one while the source was busy. */
  coalesced: number;
  /** Slots not fired because they were missed by more than the grace period (misfire `skip`). */
  skipped: number;
  createdAt: string;
  updatedAt: string;
}

/** What a due slot does, decided by the scheduler from the database's now. */
export interface SlotDecision {
  /** The slot after now: the row's new `nextFireAt`. */
  nextFireAt: Date | null;
  /** False: the slot is skipped (missed past the grace period, misfire `skip`). */
  fire: boolean;
}

/** A schedule whose fire the claiming scheduler must launch now (after the claim committed). */
export interface ClaimedFire {
  schedule: ScheduleRecord;
  /** The slot that fired, or null when this is a pending fire of an earlier slot. */
  slot: string | null;
}

export type FireOutcome = { runId: string } | { busy: true } | { error: string };

export interface ScheduleStore {
  /**
   * Creates or replaces a source's schedule (its pause state, pending fire and counters stay);
   * `firstSlot` gets the database's now. NotFoundError when there is no such source.
   */
  put(input: { source: string; cron: string; timezone: string; misfire: Misfire }, firstSlot: (now: Date) => Date | null): Promise<ScheduleRecord>;
  /** NotFoundError when the source has no schedule. */
  get(source: string): Promise<ScheduleRecord>;
  find(source: string): Promise<ScheduleRecord | null>;
  list(): Promise<ScheduleRecord[]>;
  /**
   * Pauses (a pending fire is dropped) or resumes: slots that passed while paused never fire;
   * `nextSlot` gets the database's now on resume.
   */
  setPaused(source: string, paused: boolean, nextSlot: (now: Date) => Date | null): Promise<ScheduleRecord>;
  remove(source: string): Promise<void>;
  /**
   * One scheduler tick, in one transaction: locks the unpaused schedules that are due at the
   * database's now (a slot reached, or a fire pending) — skipping rows another scheduler holds —
   * writes each one's next slot from `decide`, and commits. Returns the fires to launch; a
   * slot is claimed by one scheduler only, so it never fires twice.
   */
  claimDue(decide: (schedule: ScheduleRecord, now: Date) => SlotDecision): Promise<ClaimedFire[]>;
  /**
   * After a claimed fire was launched: the run it started; or the source was busy (the fire
   * waits, pending; if one already waits, this one is counted as coalesced); or it failed.
   */
  recordFire(source: string, outcome: FireOutcome): Promise<void>;
}

export const scheduleMessages = {
  noSchedule: (source: string) => `source "${source}" has no schedule (set one: npx mako schedule set ${source} CRON)`,
};

type Flag = number | boolean;

/** A schedule row of either store (SQLite: text times and 0/1; PostgreSQL: ISO strings and booleans). */
export interface ScheduleRow {
  source: string;
  cron: string;
  timezone: string;
  misfire: Misfire;
  paused: Flag;
  next_fire_at: string | null;
  last_fire_at: string | null;
  last_run_id: string | null;
  last_error: string | null;
  pending: Flag;
  coalesced: number;
  skipped: number;
  created_at: string;
  updated_at: string;
}

export function scheduleFrom(row: ScheduleRow): ScheduleRecord {
  return {
    source: row.source,
    cron: row.cron,
    timezone: row.timezone,
    misfire: row.misfire,
    paused: row.paused === true || row.paused === 1,
    nextFireAt: row.next_fire_at,
    lastFireAt: row.last_fire_at,
    lastRunId: row.last_run_id,
    lastError: row.last_error,
    pending: row.pending === true || row.pending === 1,
    coalesced: Number(row.coalesced),
    skipped: Number(row.skipped),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Longest error kept with a schedule. */
export const MAX_FIRE_ERROR = 2000;

/** The fields a claim writes back. */
export type ClaimWrite = Pick<ScheduleRecord, "nextFireAt" | "lastFireAt" | "pending" | "coalesced" | "skipped" | "lastError">;

/**
 * What claiming one due schedule does, the same in both stores: a reached slot moves the row
 * to its next slot and fires (or, skipped, does not); a fire already pending fires with it
 * (counted as coalesced) or alone; the fire is then in flight (`pending` false) until
 * `recordFire` says whether the source was busy.
 */
export function claimStep(s: ScheduleRecord, now: Date, decide: (schedule: ScheduleRecord, now: Date) => SlotDecision): { write: ClaimWrite; fire: ClaimedFire | null } {
  const write: ClaimWrite = { nextFireAt: s.nextFireAt, lastFireAt: s.lastFireAt, pending: false, coalesced: s.coalesced, skipped: s.skipped, lastError: s.lastError };
  const slotReached = s.nextFireAt !== null && Date.parse(s.nextFireAt) <= now.getTime();
  if (!slotReached) return { write, fire: s.pending ? { schedule: { ...s, ...write }, slot: null } : null };
  let decision: SlotDecision;
  try {
    decision = decide(s, now);
  } catch (err) {
    // A cron this machine can no longer read (its zone dropped from the time zone data, say):
    // it stops firing, and says why, until it is set again.
    write.nextFireAt = null;
    write.lastError = `cannot compute the next slot: ${err instanceof Error ? err.message : String(err)}`.slice(0, MAX_FIRE_ERROR);
    return { write, fire: s.pending ? { schedule: { ...s, ...write }, slot: null } : null };
  }
  write.nextFireAt = decision.nextFireAt ? decision.nextFireAt.toISOString() : null;
  if (!decision.fire) {
    write.skipped += 1;
    return { write, fire: s.pending ? { schedule: { ...s, ...write }, slot: null } : null };
  }
  write.lastFireAt = now.toISOString();
  if (s.pending) write.coalesced += 1;
  return { write, fire: { schedule: { ...s, ...write }, slot: s.nextFireAt } };
}
