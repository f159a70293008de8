import type Database from "better-sqlite3";
import { NotFoundError } from "./MetadataStore";
import {
  MAX_FIRE_ERROR,
  CLAIM_LIMIT,
  claimStep,
  scheduleFrom,
  scheduleMessages,
  type ClaimWrite,
  type ClaimedFire,
  type FireOutcome,
  type Misfire,
  type ScheduleRecord,
  type ScheduleRow,
  type ScheduleStore,
  type SlotDecision,
} from "./ScheduleStore";
import { storeMessages } from "./storeRows";

/**
 * Schedules in the embedded SQLite file (table `mako_schedules`). A claim is one BEGIN
 * IMMEDIATE transaction: a second scheduler on the same file waits for it, then sees the
 * slots it moved on.
 */
export class SqliteSchedules implements ScheduleStore {
  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS mako_schedules (
        source TEXT PRIMARY KEY, cron TEXT NOT NULL, timezone TEXT NOT NULL, misfire TEXT NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0, next_fire_at TEXT, last_fire_at TEXT, last_run_id TEXT, last_error TEXT,
        pending INTEGER NOT NULL DEFAULT 0, coalesced INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS mako_schedules_due ON mako_schedules (next_fire_at) WHERE paused = 0;
      -- A removed source takes its schedule with it (foreign keys are off in this file).
      CREATE TRIGGER IF NOT EXISTS mako_sources_drop_schedule AFTER DELETE ON mako_sources
        BEGIN DELETE FROM mako_schedules WHERE source = OLD.name; END;
    `);
  }

  /** The database's clock: in SQLite, this machine's, read by SQLite. */
  private clock(): Date {
    return new Date(this.db.prepare(`SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`).pluck().get() as string);
  }

  async put(input: { source: string; cron: string; timezone: string; misfire: Misfire }, firstSlot: (now: Date) => Date | null): Promise<ScheduleRecord> {
    this.db
      .transaction(() => {
        const exists = this.db.prepare(`SELECT 1 FROM mako_sources WHERE name = ?`).get(input.source);
        if (!exists) throw new NotFoundError(storeMessages.noSource(input.source));
        const now = this.clock();
        const next = firstSlot(now)?.toISOString() ?? null;
        this.db
          .prepare(
            `INSERT INTO mako_schedules (source, cron, timezone, misfire, next_fire_at, created_at, updated_at)
             VALUES (@source, @cron, @timezone, @misfire, @next, @now, @now)
             ON CONFLICT (source) DO UPDATE SET cron = excluded.cron, timezone = excluded.timezone, misfire = excluded.misfire,
               next_fire_at = excluded.next_fire_at, last_error = NULL, updated_at = excluded.updated_at`,
          )
          .run({ ...input, next, now: now.toISOString() });
      })
      .immediate();
    return this.get(input.source);
  }

  async find(source: string): Promise<ScheduleRecord | null> {
    const row = this.db.prepare(`SELECT * FROM mako_schedules WHERE source = ?`).get(source) as ScheduleRow | undefined;
    return row ? scheduleFrom(row) : null;
  }

  async get(source: string): Promise<ScheduleRecord> {
    const found = await this.find(source);
    if (!found) throw new NotFoundError(scheduleMessages.noSchedule(source));
    return found;
  }

  async list(): Promise<ScheduleRecord[]> {
    return (this.db.prepare(`SELECT * FROM mako_schedules ORDER BY source`).all() as ScheduleRow[]).map(scheduleFrom);
  }

  async setPaused(source: string, paused: boolean, nextSlot: (now: Date) => Date | null): Promise<ScheduleRecord> {
    this.db
      .transaction(() => {
        const current = this.db.prepare(`SELECT * FROM mako_schedules WHERE source = ?`).get(source) as ScheduleRow | undefined;
        if (!current) throw new NotFoundError(scheduleMessages.noSchedule(source));
        const now = this.clock();
        if (paused) {
          this.db.prepare(`UPDATE mako_schedules SET paused = 1, pending = 0, updated_at = ? WHERE source = ?`).run(now.toISOString(), source);
        } else if (current.paused) {
          const next = nextSlot(now)?.toISOString() ?? null;
          this.db.prepare(`UPDATE mako_schedules SET paused = 0, next_fire_at = ?, updated_at = ? WHERE source = ?`).run(next, now.toISOString(), source);
        }
      })
      .immediate();
    return this.get(source);
  }

  async remove(source: string): Promise<void> {
    const { changes } = this.db.prepare(`DELETE FROM mako_schedules WHERE source = ?`).run(source);
    if (changes === 0) throw new NotFoundError(scheduleMessages.noSchedule(source));
  }

  async claimDue(decide: (schedule: ScheduleRecord, now: Date) => SlotDecision): Promise<ClaimedFire[]> {
    return this.db
      .transaction(() => {
        const now = this.clock();
        const due = this.db
          .prepare(
            `SELECT * FROM mako_schedules
             WHERE paused = 0 AND ((next_fire_at IS NOT NULL AND next_fire_at <= ?) OR pending = 1)
             ORDER BY next_fire_at LIMIT ?`,
          )
          .all(now.toISOString(), CLAIM_LIMIT) as ScheduleRow[];
        const update = this.db.prepare(
          `UPDATE mako_schedules SET next_fire_at = @nextFireAt, last_fire_at = @lastFireAt, pending = @pending,
             coalesced = @coalesced, skipped = @skipped, last_error = @lastError WHERE source = @source`,
        );
        const fires: ClaimedFire[] = [];
        for (const row of due) {
          const { write, fire } = claimStep(scheduleFrom(row), now, decide);
          update.run({ ...bound(write), source: row.source });
          if (fire) fires.push(fire);
        }
        return fires;
      })
      .immediate();
  }

  async recordFire(source: string, outcome: FireOutcome): Promise<void> {
    if ("runId" in outcome) {
      this.db.prepare(`UPDATE mako_schedules SET last_run_id = ?, last_error = NULL WHERE source = ?`).run(outcome.runId, source);
    } else if ("busy" in outcome) {
      this.db.prepare(`UPDATE mako_schedules SET coalesced = coalesced + pending, pending = 1 WHERE source = ? AND paused = 0`).run(source);
    } else {
      this.db.prepare(`UPDATE mako_schedules SET last_error = ? WHERE source = ?`).run(outcome.error.slice(0, MAX_FIRE_ERROR), source);
    }
  }
}

function bound(w: ClaimWrite) {
  return { ...w, pending: w.pending ? 1 : 0 };
}
