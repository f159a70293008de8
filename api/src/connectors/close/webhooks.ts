// Close's webhooks, as developer.close.com documents them (/api/resources/webhooks, "Webhook
// Signatures"): the subscription's `signature_key` (hex, returned when the subscription is
// created, /api/resources/webhooks/create) signs each POST; `close-sig-timestamp` is the signing
// time (epoch seconds) and `close-sig-hash` the hex HMAC-SHA256, keyed with the decoded key, of
// that timestamp and the raw body concatenated. The body is `{event, subscription_id}`, the
// event as the event log has it (/api/resources/events): its own `id`, `object_type`,
// `object_id`, `action`, `data` (the object now), `previous_data`. Close retries failed
// deliveries, backing off exponentially up to every 20 minutes, for 72 hours; order is not
// guaranteed, and updates and deletions are consolidated before they are sent.
import { z } from "zod";
import type { DataRecord } from "../base/types";
import { hexSignatureMatches, hmacSha256, parseJsonBody, type WebhookChange, type WebhookEvent, type WebhookSupport, type WebhookVerification } from "../base/webhooks";
import { closeMicros, deletionRecord, entityOfObjectType, objectRecord, UPDATED_ENTITIES } from "./objects";

/**
 * Seconds the signing timestamp may be from this machine's clock, either way. Close documents
 * none; each POST (retries included) is signed when sent, so 5 minutes, as Stripe uses.
 */
export const CLOSE_SIGNATURE_TOLERANCE_SECONDS = 300;

const ACTIONS = ["created", "updated", "deleted"] as const;

/** `object_type.action` pairs to subscribe to: every object type the connector keeps current. */
export const CLOSE_WEBHOOK_EVENTS = Object.values(UPDATED_ENTITIES).flatMap((spec) => ACTIONS.map((action) => `${spec.objectType}.${action}`));

const record = z.record(z.string(), z.unknown());
const payloadSchema = z.object({
  event: z.object({
    id: z.string().min(1),
    object_type: z.string().min(1),
    object_id: z.string().min(1).nullish(),
    action: z.string().min(1),
    date_created: z.string().min(1),
    date_updated: z.string().min(1).nullish(),
    data: record.nullish(),
    previous_data: record.nullish(),
  }),
});

export function closeWebhooks(signatureKey: string | undefined): WebhookSupport {
  return {
    secretField: "webhook_signature_key",
    secretSet: !!signatureKey,
    subscribe: CLOSE_WEBHOOK_EVENTS,
    setup:
      'Create a subscription in Close (POST /api/v1/webhook/ with {"url": URL, "events": [{"object_type": …, "action": …}, …]}, one entry per pair below), then copy its answer\'s signature_key into the source\'s webhook_signature_key.',
    verify: (rawBody, headers, now) => verify(signatureKey, rawBody, headers, now),
    toChange,
  };
}

function verify(signatureKey: string | undefined, rawBody: Uint8Array, headers: Headers, now: number): WebhookVerification {
  if (!signatureKey) return { ok: false, error: "webhooks are not set up: webhook_signature_key is not set" };
  const hash = headers.get("close-sig-hash");
  const stamp = headers.get("close-sig-timestamp");
  if (!hash || !stamp) return { ok: false, error: "missing close-sig-hash or close-sig-timestamp header" };
  if (!/^\d{1,12}$/.test(stamp.trim())) return { ok: false, error: "close-sig-timestamp is not a timestamp" };
  const expected = hmacSha256(Buffer.from(signatureKey, "hex"), stamp.trim(), rawBody);
  if (!hexSignatureMatches(hash.trim(), expected)) {
    return { ok: false, error: "close-sig-hash does not match webhook_signature_key: the body was altered, or the key is not this subscription's" };
  }
  const skew = now - Number(stamp);
  if (Math.abs(skew) > CLOSE_SIGNATURE_TOLERANCE_SECONDS) {
    return { ok: false, error: `close-sig-timestamp is ${Math.abs(skew)} s ${skew > 0 ? "old" : "ahead"} (tolerance ${CLOSE_SIGNATURE_TOLERANCE_SECONDS} s): a replayed delivery, or a clock out of sync` };
  }
  const body = parseJsonBody(rawBody);
  if (!body.ok) return body;
  const parsed = payloadSchema.safeParse(body.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, error: `the body is not a Close webhook event: ${issue.path.join(".") || "body"}: ${issue.message}` };
  }
  // The event's own id: each change is its own event, so keying on the object (or the object
  // and the action) would drop every update after the first.
  const { id, object_type, action } = parsed.data.event;
  return { ok: true, event: { id, type: `${object_type}.${action}`, payload: body.value } };
}

/**
 * The row an event leaves, in the pull's shape (`objectRecord`: the search's fields). The
 * version is the object's `date_updated`: the field Close orders and filters changes by, and
 * the one the pull's cursor reads, so both paths rank a row on the same clock (an event's own
 * times are when it was logged and consolidated). A deletion has no object left: it ranks at
 * the event's time, which is after the object's last update.
 */
function toChange(event: WebhookEvent): WebhookChange | null {
  const e = payloadSchema.parse(event.payload).event;
  const target = entityOfObjectType(e.object_type);
  if (!target) return null;
  const data = (e.data ?? null) as DataRecord | null;
  const objectId = e.object_id ?? (typeof data?.id === "string" ? data.id : undefined);
  if (!objectId) throw new Error(`Close event ${e.id} (${event.type}) names no object (object_id)`);
  const eventTime = e.date_updated ?? e.date_created;
  if (e.action === "deleted") {
    const deletion = { object_id: objectId, date_created: e.date_created, data, previous_data: (e.previous_data ?? null) as DataRecord | null };
    return { entity: target.entity, objectId, record: deletionRecord(target.spec, deletion), version: micros(eventTime, e.id), deleted: true };
  }
  if (!data) throw new Error(`Close event ${e.id} (${event.type}) carries no data`);
  const updated = typeof data.date_updated === "string" ? data.date_updated : eventTime;
  return { entity: target.entity, objectId, record: objectRecord(target.spec, { ...data, id: objectId }), version: micros(updated, e.id), deleted: false };
}

function micros(text: string, eventId: string): number {
  const value = closeMicros(text);
  if (Number.isNaN(value)) throw new Error(`Close event ${eventId} has an unreadable time "${text.slice(0, 40)}"`);
  return value;
}
