import type { DataRecord } from "../connectors/base/types";

/**
 * A verified webhook event, as the endpoint stores it before answering the vendor: keyed by the
 * vendor's event id, with the row it changes (`WebhookChange`) when it maps to a synced entity.
 */
export interface InboxEvent {
  source: string;
  /** The vendor's id of the event; deliveries of one event share it. */
  eventId: string;
  /** The vendor's event type, e.g. "customer.updated". */
  eventType: string;
  /** Null for an event about nothing the connector syncs: stored already applied. */
  entity: string | null;
  objectId: string | null;
  /** Microseconds since the epoch on the vendor's clock: orders writes of one object. */
  version: number | null;
  deleted: boolean;
  /**
   * The row as the pull writes it (a deletion carries `_mako_deleted_at`). Read back from JSON it
   * is no longer marked: applying it, pass it through `markDeleted` when `deleted` is true.
   */
  record: DataRecord | null;
}

export interface StoredInboxEvent extends InboxEvent {
  /** Arrival order in this store. */
  seq: number;
  receivedAt: string;
  /** Null until the event has been applied to the destination. */
  appliedAt: string | null;
}

export interface InboxSummary {
  /** When the last verified event of the source arrived, or null. */
  lastReceivedAt: string | null;
  /** Events stored and not yet applied. */
  pending: number;
}

/** Where verified webhook events wait to be applied, in the metadata store. */
export interface WebhookInbox {
  /**
   * Stores an event once per (source, event id). Resolves after the commit — true when it was
   * stored now, false when that id was already stored — and rejects when the store cannot take
   * it (the endpoint then answers 503 so the vendor retries).
   */
  add(event: InboxEvent): Promise<boolean>;
  /** Unapplied events of one entity in arrival order, after `afterSeq`. */
  pending(source: string, entity: string, options?: { afterSeq?: number; limit?: number }): Promise<StoredInboxEvent[]>;
  /** Marks events applied (those already applied keep their time). */
  markApplied(source: string, eventIds: string[], at?: string): Promise<void>;
  summary(source: string): Promise<InboxSummary>;
  /** Every (source, entity) with events waiting to be applied: what an applier starting up has to do. */
  pendingEntities(): Promise<{ source: string; entity: string }[]>;
  /**
   * The entity's events received at or after `since` (ISO), applied or not, in arrival order:
   * those a full refresh begun at `since` re-applies after its swap.
   */
  receivedSince(source: string, entity: string, since: string, options?: { afterSeq?: number; limit?: number }): Promise<StoredInboxEvent[]>;
  /** Deletes events applied before `appliedBefore` (ISO); says how many. Pending events are kept whatever their age. */
  prune(appliedBefore: string): Promise<number>;
}

/** The columns an event is stored in, shared by both stores. */
export interface InboxRow {
  seq: number;
  source: string;
  event_id: string;
  event_type: string;
  entity: string | null;
  object_id: string | null;
  version: number | string | null;
  deleted: number | boolean;
  record_json: string | DataRecord | null;
  received_at: string;
  applied_at: string | null;
}

export function inboxEventFrom(row: InboxRow): StoredInboxEvent {
  return {
    seq: Number(row.seq),
    source: row.source,
    eventId: row.event_id,
    eventType: row.event_type,
    entity: row.entity,
    objectId: row.object_id,
    version: row.version === null ? null : Number(row.version),
    deleted: row.deleted === 1 || row.deleted === true,
    record: typeof row.record_json === "string" ? (JSON.parse(row.record_json) as DataRecord) : row.record_json,
    receivedAt: row.received_at,
    appliedAt: row.applied_at,
  };
}
