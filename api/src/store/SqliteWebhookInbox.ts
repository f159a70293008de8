import type Database from "better-sqlite3";
import { GroupCommit } from "./GroupCommit";
import { inboxEventFrom, type InboxEvent, type InboxRow, type InboxSummary, type StoredInboxEvent, type WebhookInbox } from "./WebhookInbox";

/** The webhook inbox in the embedded SQLite file (table `mako_webhook_inbox`). */
export class SqliteWebhookInbox implements WebhookInbox {
  private readonly insert: Database.Statement;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS mako_webhook_inbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL,
        entity TEXT, object_id TEXT, version INTEGER, deleted INTEGER NOT NULL DEFAULT 0, record_json TEXT,
        received_at TEXT NOT NULL, applied_at TEXT,
        UNIQUE (source, event_id));
      CREATE INDEX IF NOT EXISTS mako_webhook_inbox_pending ON mako_webhook_inbox (source, entity, seq) WHERE applied_at IS NULL;
      CREATE INDEX IF NOT EXISTS mako_webhook_inbox_received ON mako_webhook_inbox (source, seq);
    `);
    this.insert = db.prepare(
      `INSERT INTO mako_webhook_inbox (source, event_id, event_type, entity, object_id, version, deleted, record_json, received_at, applied_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, event_id) DO NOTHING`,
    );
  }

  /** Concurrent deliveries share one transaction: one disk flush for the lot. */
  private readonly commits = new GroupCommit<InboxEvent, boolean>((events) => this.insertAll(events));

  add(e: InboxEvent): Promise<boolean> {
    return this.commits.add(e);
  }

  private insertAll(events: InboxEvent[]): boolean[] {
    // The vendor stops retrying once answered 200: the commit must reach the disk first. The
    // file runs synchronous=NORMAL (a killed process loses nothing, power loss may drop the last
    // commits), so this commit is made FULL. better-sqlite3 is synchronous: nothing else runs
    // on the connection between the two pragmas.
    const previous = this.db.pragma("synchronous", { simple: true });
    this.db.pragma("synchronous = FULL");
    try {
      return this.db.transaction(() => {
        const now = new Date().toISOString();
        return events.map(
          (e) =>
            this.insert.run(
              e.source,
              e.eventId,
              e.eventType,
              e.entity,
              e.objectId,
              e.version,
              e.deleted ? 1 : 0,
              e.record === null ? null : JSON.stringify(e.record),
              now,
              e.entity === null ? now : null,
            ).changes > 0,
        );
      })();
    } finally {
      this.db.pragma(`synchronous = ${Number(previous)}`);
    }
  }

  async pending(source: string, entity: string, options: { afterSeq?: number; limit?: number } = {}): Promise<StoredInboxEvent[]> {
    const rows = this.db
      .prepare(
        `SELECT * FROM mako_webhook_inbox WHERE source = ? AND entity = ? AND applied_at IS NULL AND seq > ? ORDER BY seq LIMIT ?`,
      )
      .all(source, entity, options.afterSeq ?? 0, options.limit ?? 1000) as InboxRow[];
    return rows.map(inboxEventFrom);
  }

  async markApplied(source: string, eventIds: string[], at = new Date().toISOString()): Promise<void> {
    const mark = this.db.prepare(`UPDATE mako_webhook_inbox SET applied_at = ? WHERE source = ? AND event_id = ? AND applied_at IS NULL`);
    this.db.transaction(() => {
      for (const id of eventIds) mark.run(at, source, id);
    })();
  }

  async pendingEntities(): Promise<{ source: string; entity: string }[]> {
    return this.db.prepare(`SELECT DISTINCT source, entity FROM mako_webhook_inbox WHERE applied_at IS NULL AND entity IS NOT NULL ORDER BY source, entity`).all() as {
      source: string;
      entity: string;
    }[];
  }

  async receivedSince(source: string, entity: string, since: string, options: { afterSeq?: number; limit?: number } = {}): Promise<StoredInboxEvent[]> {
    // received_at is ISO text in UTC from toISOString(): it orders as text.
    const rows = this.db
      .prepare(`SELECT * FROM mako_webhook_inbox WHERE source = ? AND entity = ? AND received_at >= ? AND seq > ? ORDER BY seq LIMIT ?`)
      .all(source, entity, new Date(since).toISOString(), options.afterSeq ?? 0, options.limit ?? 1000) as InboxRow[];
    return rows.map(inboxEventFrom);
  }

  async prune(appliedBefore: string): Promise<number> {
    return this.db.prepare(`DELETE FROM mako_webhook_inbox WHERE applied_at IS NOT NULL AND applied_at < ?`).run(new Date(appliedBefore).toISOString()).changes;
  }

  async summary(source: string): Promise<InboxSummary> {
    const last = this.db.prepare(`SELECT received_at FROM mako_webhook_inbox WHERE source = ? ORDER BY seq DESC LIMIT 1`).pluck().get(source) as string | undefined;
    const pending = this.db.prepare(`SELECT count(*) FROM mako_webhook_inbox WHERE source = ? AND applied_at IS NULL`).pluck().get(source) as number;
    return { lastReceivedAt: last ?? null, pending };
  }
}
