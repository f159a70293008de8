// Stored webhook events as the rows the pull would write for the same objects: the same field
// normalisation as the engine's (chunkRecords.ts), the deletion mark restored from `deleted`
// (JSON cannot carry it), and each row ranked at its event's version.
import { DELETED_AT_FIELD, markDeleted } from "../connectors/base/deletions";
import type { DataRecord, EntityDescriptor } from "../connectors/base/types";
import { microsOf, withVersion } from "../connectors/base/version";
import type { StoredInboxEvent } from "../store/WebhookInbox";
import { prepareChunk } from "../sync/chunkRecords";
import { canonicalKey } from "../sync/recordFields";

export interface EventRows {
  /** One row per object: the event of highest version (the later arrival on a tie). */
  records: DataRecord[];
  /** Events that cannot become a row (no record, no primary key): nothing to write for them. */
  unusable: StoredInboxEvent[];
}

/** The rows a batch of an entity's events leaves, in the pull's shape. */
export function eventRows(events: StoredInboxEvent[], entity: EntityDescriptor): EventRows {
  const latest = new Map<string, { record: DataRecord; version: number }>();
  const unusable: StoredInboxEvent[] = [];
  for (const event of events) {
    const record = event.record ? rowOf(event, event.record) : null;
    const key = record ? keyOf(record, entity.primaryKey) : null;
    if (!record || key === null) {
      unusable.push(event);
      continue;
    }
    const version = versionOf(event);
    const seen = latest.get(key);
    // Not older wins, as the destination's guard rules: later arrivals win ties.
    if (!seen || version >= seen.version) latest.set(key, { record: withVersion(record, version), version });
  }
  const batch = [...latest.values()].map((r) => r.record);
  if (batch.length === 0) return { records: [], unusable };
  const { records } = prepareChunk([batch], {
    entity: entity.name,
    primaryKey: entity.primaryKey,
    cursorField: entity.cursorField,
    seq: 0,
    readAt: [0], // every record carries its event's version
  });
  return { records, unusable };
}

/** An event without a version (none should have one) ranks at its arrival. */
function versionOf(event: StoredInboxEvent): number {
  return event.version ?? microsOf(Date.parse(event.receivedAt));
}

/** A copy of the stored record, marked deleted again when the event deletes the object. */
function rowOf(event: StoredInboxEvent, stored: DataRecord): DataRecord {
  const record: DataRecord = { ...stored };
  if (!event.deleted) return record;
  const at = typeof record[DELETED_AT_FIELD] === "string" ? record[DELETED_AT_FIELD] : new Date(versionOf(event) / 1000).toISOString();
  delete record[DELETED_AT_FIELD];
  return markDeleted(record, at as string);
}

function keyOf(record: DataRecord, primaryKey: string[]): string | null {
  const parts: unknown[] = [];
  for (const k of primaryKey) {
    const v = record[k];
    if (v === undefined || v === null || v === "") return null;
    parts.push(canonicalKey(v));
  }
  return JSON.stringify(parts);
}
