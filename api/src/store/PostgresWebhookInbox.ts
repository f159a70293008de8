import type pg from "pg";
import { GroupCommit } from "./GroupCommit";
import { inboxEventFrom, type InboxEvent, type InboxRow, type InboxSummary, type StoredInboxEvent, type WebhookInbox } from "./WebhookInbox";

/** The inbox's table in Mako's PostgreSQL schema; PostgresStore creates it with the others. */
export const postgresInboxDdl = (schema: string) => `
  CREATE TABLE IF NOT EXISTS ${schema}.webhook_inbox (
    seq bigserial PRIMARY KEY, source text NOT NULL, event_id text NOT NULL, event_type text NOT NULL,
    entity text, object_id text, version bigint, deleted boolean NOT NULL DEFAULT false, record_json json,
    received_at timestamptz NOT NULL, applied_at timestamptz,
    UNIQUE (source, event_id));
  CREATE INDEX IF NOT EXISTS webhook_inbox_pending ON ${schema}.webhook_inbox (source, entity, seq) WHERE applied_at IS NULL;
  CREATE INDEX IF NOT EXISTS webhook_inbox_received ON ${schema}.webhook_inbox (source, seq);`;

/**
 * The webhook inbox in PostgreSQL. A duplicate delivered while the first is still being
 * inserted waits on the unique index for that insert's commit, so it is answered only once the
 * event is stored.
 */
export class PostgresWebhookInbox implements WebhookInbox {
  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
  ) {}

  /** Concurrent deliveries share one statement and one commit. */
  private readonly commits = new GroupCommit<InboxEvent, boolean>((events) => this.insertAll(events));

  add(e: InboxEvent): Promise<boolean> {
    return this.commits.add(e);
  }

  private async insertAll(events: InboxEvent[]): Promise<boolean[]> {
    const now = new Date().toISOString();
    const column = <T>(f: (e: InboxEvent) => T) => events.map(f);
    // One statement for the batch: unnest keeps it ten parameters however many events. A
    // duplicate already stored, or twice in the batch, is skipped; RETURNING says which went in.
    const { rows } = await this.pool.query<{ source: string; event_id: string }>(
      `INSERT INTO ${this.schema}.webhook_inbox (source, event_id, event_type, entity, object_id, version, deleted, record_json, received_at, applied_at)
       SELECT source, event_id, event_type, entity, object_id, version, deleted, record_json, $9::timestamptz, CASE WHEN entity IS NULL THEN $9::timestamptz END
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::boolean[], $8::json[]) WITH ORDINALITY
         AS e(source, event_id, event_type, entity, object_id, version, deleted, record_json, ord)
       ORDER BY ord
       ON CONFLICT (source, event_id) DO NOTHING
       RETURNING source, event_id`,
      [
        column((e) => e.source),
        column((e) => e.eventId),
        column((e) => e.eventType),
        column((e) => e.entity),
        column((e) => e.objectId),
        column((e) => e.version),
        column((e) => e.deleted),
        column((e) => (e.record === null ? null : JSON.stringify(e.record))),
        now,
      ],
    );
    // The first of the batch's copies of an event is the one inserted (ORDER BY ord).
    const inserted = new Set(rows.map((r) => `${r.source}\0${r.event_id}`));
    return events.map((e) => inserted.delete(`${e.source}\0${e.eventId}`));
  }

  async pending(source: string, entity: string, options: { afterSeq?: number; limit?: number } = {}): Promise<StoredInboxEvent[]> {
    const { rows } = await this.pool.query<InboxRow>(
      `SELECT seq, source, event_id, event_type, entity, object_id, version, deleted, record_json::text AS record_json, received_at, applied_at
       FROM ${this.schema}.webhook_inbox WHERE source = $1 AND entity = $2 AND applied_at IS NULL AND seq > $3 ORDER BY seq LIMIT $4`,
      [source, entity, options.afterSeq ?? 0, options.limit ?? 1000],
    );
    return rows.map(inboxEventFrom);
  }

  async markApplied(source: string, eventIds: string[], at = new Date().toISOString()): Promise<void> {
    await this.pool.query(`UPDATE ${this.schema}.webhook_inbox SET applied_at = $1 WHERE source = $2 AND event_id = ANY($3) AND applied_at IS NULL`, [at, source, eventIds]);
  }

  async pendingEntities(): Promise<{ source: string; entity: string }[]> {
    const { rows } = await this.pool.query<{ source: string; entity: string }>(
      `SELECT DISTINCT source, entity FROM ${this.schema}.webhook_inbox WHERE applied_at IS NULL AND entity IS NOT NULL ORDER BY source, entity`,
    );
    return rows;
  }

  async receivedSince(source: string, entity: string, since: string, options: { afterSeq?: number; limit?: number } = {}): Promise<StoredInboxEvent[]> {
    const { rows } = await this.pool.query<InboxRow>(
      `SELECT seq, source, event_id, event_type, entity, object_id, version, deleted, record_json::text AS record_json, received_at, applied_at
       FROM ${this.schema}.webhook_inbox WHERE source = $1 AND entity = $2 AND received_at >= $3 AND seq > $4 ORDER BY seq LIMIT $5`,
      [source, entity, since, options.afterSeq ?? 0, options.limit ?? 1000],
    );
    return rows.map(inboxEventFrom);
  }

  async prune(appliedBefore: string): Promise<number> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${this.schema}.webhook_inbox WHERE applied_at IS NOT NULL AND applied_at < $1`, [appliedBefore]);
    return rowCount ?? 0;
  }

  async summary(source: string): Promise<InboxSummary> {
    const { rows } = await this.pool.query<{ last: string | null; pending: number }>(
      `SELECT (SELECT received_at FROM ${this.schema}.webhook_inbox WHERE source = $1 ORDER BY seq DESC LIMIT 1) AS last,
              (SELECT count(*) FROM ${this.schema}.webhook_inbox WHERE source = $1 AND applied_at IS NULL) AS pending`,
      [source],
    );
    return { lastReceivedAt: rows[0].last, pending: Number(rows[0].pending) };
  }
}
