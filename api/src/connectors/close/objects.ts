// Close's object types: the entity each lands in, and the row an object leaves. The pull and
// webhooks both write through here, so a lead read by the search and a lead from a webhook
// fill the same columns.
import { markDeleted } from "../base/deletions";
import { withVersion } from "../base/version";
import type { DataRecord } from "../base/types";
import { SEARCH_FIELDS } from "./searchFields";

/**
 * How an entity's created and updated objects are read: through the Advanced Filtering API
 * (POST data/search/, sorted by date_updated, cursor-paginated), or a list endpoint that
 * documents a date_updated filter and order (opportunities). Deletions always come from the
 * event log, under `objectType`.
 */
export type Updated =
  | { objectType: string; via: "search"; customFields?: "lead" | "contact" }
  | { objectType: string; via: "list"; path: string };

/**
 * Activities are one entity per sub-type: each has its own fields (a call's duration, an
 * email's body) and its own event-log type, so each gets its own table and its own mark — a
 * busy email stream never moves the calls' mark, and no sub-type's columns are mixed into another's.
 */
export const ACTIVITY_TYPES = ["call", "email", "note", "meeting", "sms"] as const;

export const UPDATED_ENTITIES: Record<string, Updated> = {
  leads: { objectType: "lead", via: "search", customFields: "lead" },
  contacts: { objectType: "contact", via: "search", customFields: "contact" },
  opportunities: { objectType: "opportunity", via: "list", path: "opportunity/" },
  ...Object.fromEntries(ACTIVITY_TYPES.map((t) => [`activities_${t}`, { objectType: `activity.${t}`, via: "search" as const }])),
};

/** The entity of an object type (`lead`, `activity.call`, …), if the connector syncs it. */
export function entityOfObjectType(objectType: string): { entity: string; spec: Updated } | undefined {
  const found = Object.entries(UPDATED_ENTITIES).find(([, spec]) => spec.objectType === objectType);
  return found && { entity: found[0], spec: found[1] };
}

/**
 * An object as the pull writes it: what the search asks for with `_fields` (the documented
 * fields, and every `custom.FIELD_ID` of leads and contacts), or the whole object where a list
 * endpoint reads it (opportunities).
 */
export function objectRecord(spec: Updated, data: DataRecord): DataRecord {
  if (spec.via === "list") return data;
  const record: DataRecord = {};
  for (const field of SEARCH_FIELDS[spec.objectType]) if (field in data) record[field] = data[field];
  if (spec.customFields) for (const [key, value] of Object.entries(data)) if (key.startsWith("custom.")) record[key] = value;
  return record;
}

/** An event-log entry or a webhook's event, as far as a deletion needs it (/api/resources/events). */
export interface DeletionEvent {
  object_id: string;
  date_created: string;
  data: DataRecord | null;
  previous_data: DataRecord | null;
}

/** The row a deletion leaves: the object's last values, marked `_mako_deleted_at`. */
export function deletionRecord(spec: Updated, event: DeletionEvent): DataRecord {
  const at = closeMicros(event.date_created);
  const record = markDeleted({ ...objectRecord(spec, event.previous_data ?? event.data ?? {}), id: event.object_id }, new Date(at / 1000));
  return Number.isFinite(at) ? withVersion(record, at) : record;
}

/**
 * A Close timestamp as microseconds since the epoch. Close writes microseconds, with an
 * offset on objects (`2019-01-15T12:41:24.496000+00:00`) and without one on events
 * (`2019-01-15T12:48:23.395000`), which are UTC (/api/overview/timezone-offsets). NaN if unreadable.
 */
export function closeMicros(text: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6})\d*)?(Z|[+-]\d\d:?\d\d)?$/.exec(text);
  if (!m) return NaN;
  const seconds = Date.parse(`${m[1]}${m[3] ?? "Z"}`);
  return seconds * 1000 + Number((m[2] ?? "").padEnd(6, "0"));
}
