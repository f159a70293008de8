import type pg from "pg";
import { inTransaction } from "./pgTransaction";
import { NotFoundError } from "./MetadataStore";
import {
  MAX_FIRE_ERROR,
  CLAIM_LIMIT,
  claimStep,
  scheduleFrom,
  scheduleMessages,
  type ClaimedFire,
  type FireOutcome,
  type Misfire,
  type ScheduleRecord,
  type ScheduleRow,
  type ScheduleStore,
  type SlotDecision,
} from "./ScheduleStore";
import { storeMessages } from "./storeRows";

/** The schedules' table in Mako's PostgreSQL schema; PostgresStore creates it with the others. */
export const postgresSchedulesDdl = (schema: string) => `
  CREATE TABLE IF NOT EXISTS ${schema}.schedules (
    source text PRIMARY KEY REFERENCES ${schema}.sources (name) ON DELETE CASCADE,
    cron text NOT NULL, timezone text NOT NULL, misfire text NOT NULL, paused boolean NOT NULL DEFAULT false,
    next_fire_at timestamptz, last_fire_at timestamptz, last_run_id text, last_error text,
    pending boolean NOT NULL DEFAULT false, coalesced integer NOT NULL DEFAULT 0, skipped integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
  CREATE INDEX IF NOT EXISTS schedules_due ON ${schema}.schedules (next_fire_at) WHERE NOT paused;`;

/**
 * Schedules in PostgreSQL. A claim locks the due rows FOR UPDATE SKIP LOCKED: schedulers in
 * other processes (or on other machines) claim other rows meanwhile, and a row whose slot was
 * moved on while they waited is no longer due when they see it.
 */
export class PostgresSchedules implements ScheduleStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
  ) {}

  async put(input: { source: string; cron: string; timezone: string; misfire: Misfire }, firstSlot: (now: Date) => Date | null): Promise<ScheduleRecord> {
    await this.transaction(async (client) => {
      // Held to commit: the source cannot be removed between this check and the insert.
      const exists = await client.query(`SELECT 1 FROM ${this.schema}.sources WHERE name = $1 FOR KEY SHARE`, [input.source]);
      if (exists.rowCount === 0) throw new NotFoundError(storeMessages.noSource(input.source));
      const now = await this.clockOf(client);
      await client.query(
        `INSERT INTO ${this.schema}.schedules (source, cron, timezone, misfire, next_fire_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (source) DO UPDATE SET cron = excluded.cron, timezone = excluded.timezone, misfire = excluded.misfire,
           next_fire_at = excluded.next_fire_at, last_error = NULL, updated_at = excluded.updated_at`,
        [input.source, input.cron, input.timezone, input.misfire, firstSlot(now)?.toISOString() ?? null, now.toISOString()],
      );
    });
    return this.get(input.source);
  }

  async find(source: string): Promise<ScheduleRecord | null> {
    const { rows } = await this.pool.query<ScheduleRow>(`SELECT * FROM ${this.schema}.schedules WHERE source = $1`, [source]);
    return rows[0] ? scheduleFrom(rows[0]) : null;
  }

  async get(source: string): Promise<ScheduleRecord> {
    const found = await this.find(source);
    if (!found) throw new NotFoundError(scheduleMessages.noSchedule(source));
    return found;
  }

  async list(): Promise<ScheduleRecord[]> {
    const { rows } = await this.pool.query<ScheduleRow>(`SELECT * FROM ${this.schema}.schedules ORDER BY source`);
    return rows.map(scheduleFrom);
  }

  async setPaused(source: string, paused: boolean, nextSlot: (now: Date) => Date | null): Promise<ScheduleRecord> {
    await this.transaction(async (client) => {
      const { rows } = await client.query<ScheduleRow>(`SELECT * FROM ${this.schema}.schedules WHERE source = $1 FOR UPDATE`, [source]);
      if (!rows[0]) throw new NotFoundError(scheduleMessages.noSchedule(source));
      const now = await this.clockOf(client);
      if (paused) {
        await client.query(`UPDATE ${this.schema}.schedules SET paused = true, pending = false, updated_at = $2 WHERE source = $1`, [source, now.toISOString()]);
      } else if (rows[0].paused) {
        await client.query(`UPDATE ${this.schema}.schedules SET paused = false, next_fire_at = $2, updated_at = $3 WHERE source = $1`, [
          source,
          nextSlot(now)?.toISOString() ?? null,
          now.toISOString(),
        ]);
      }
    });
    return this.get(source);
  }

  async remove(source: string): Promise<void> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${this.schema}.schedules WHERE source = $1`, [source]);
    if (rowCount === 0) throw new NotFoundError(scheduleMessages.noSchedule(source));
  }

  async claimDue(decide: (schedule: ScheduleRecord, now: Date) => SlotDecision): Promise<ClaimedFire[]> {
    return this.transaction(async (client) => {
      const now = await this.clockOf(client);
      const { rows } = await client.query<ScheduleRow>(
        `SELECT * FROM ${this.schema}.schedules
         WHERE NOT paused AND (next_fire_at <= $1 OR pending)
         ORDER BY next_fire_at LIMIT $2
         FOR UPDATE SKIP LOCKED`,
        [now.toISOString(), CLAIM_LIMIT],
      );
      const fires: ClaimedFire[] = [];
      for (const row of rows) {
        const { write, fire } = claimStep(scheduleFrom(row), now, decide);
        await client.query(
          `UPDATE ${this.schema}.schedules SET next_fire_at = $2, last_fire_at = $3, pending = $4, coalesced = $5, skipped = $6, last_error = $7
           WHERE source = $1`,
          [row.source, write.nextFireAt, write.lastFireAt, write.pending, write.coalesced, write.skipped, write.lastError],
        );
        if (fire) fires.push(fire);
      }
      return fires;
    });
  }

  async recordFire(source: string, outcome: FireOutcome): Promise<void> {
    if ("runId" in outcome) {
      await this.pool.query(`UPDATE ${this.schema}.schedules SET last_run_id = $2, last_error = NULL WHERE source = $1`, [source, outcome.runId]);
    } else if ("busy" in outcome) {
      await this.pool.query(
        `UPDATE ${this.schema}.schedules SET coalesced = coalesced + CASE WHEN pending THEN 1 ELSE 0 END, pending = true WHERE source = $1 AND NOT paused`,
        [source],
      );
    } else {
      await this.pool.query(`UPDATE ${this.schema}.schedules SET last_error = $2 WHERE source = $1`, [source, outcome.error.slice(0, MAX_FIRE_ERROR)]);
    }
  }

  /** The database's clock: the transaction's start, as every slot of a claim is computed from. */
  private async clockOf(client: pg.PoolClient): Promise<Date> {
    const { rows } = await client.query<{ now: string }>(`SELECT now() AS now`);
    return new Date(rows[0].now);
  }

  private transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, work);
  }
}
