// Stripe's webhooks, as docs.stripe.com/webhooks documents them ("Verify webhook signatures
// manually"): the `Stripe-Signature` header is `t=TIMESTAMP,v1=SIGNATURE[,v1=…]` (other schemes,
// such as the test-mode `v0`, are ignored to prevent downgrade attacks); a signature is the hex
// HMAC-SHA256, keyed with the endpoint's signing secret, of `TIMESTAMP.` followed by the raw
// body; it is compared in constant time with every `v1`; Stripe's libraries refuse a timestamp
// more than 5 minutes from the receiver's clock. Stripe signs each delivery attempt afresh, and
// while a rolled secret has not expired it sends one `v1` per secret.
import { z } from "zod";
import { hexSignatureMatches, hmacSha256, parseJsonBody, type WebhookChange, type WebhookEvent, type WebhookSupport, type WebhookVerification } from "../base/webhooks";
import { EVENT_ENTITIES, eventRecord, eventVersion, isDeletion, type StripeEvent } from "./events";

/** Seconds a signature's timestamp may be from this machine's clock, either way. */
export const STRIPE_SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * The event types to subscribe to: those whose `data.object` is an entity the connector syncs
 * (docs.stripe.com/api/events/types). `invoice.upcoming` is left out: its invoice is a preview
 * that has no id.
 */
export const STRIPE_WEBHOOK_EVENTS = [
  "customer.created",
  "customer.updated",
  "customer.deleted",
  "product.created",
  "product.updated",
  "product.deleted",
  "price.created",
  "price.updated",
  "price.deleted",
  "customer.subscription.created",
  "customer.subscription.updated",
  "customer.subscription.deleted",
  "customer.subscription.paused",
  "customer.subscription.resumed",
  "customer.subscription.pending_update_applied",
  "customer.subscription.pending_update_expired",
  "customer.subscription.trial_will_end",
  "invoice.created",
  "invoice.updated",
  "invoice.deleted",
  "invoice.finalized",
  "invoice.finalization_failed",
  "invoice.paid",
  "invoice.payment_action_required",
  "invoice.payment_failed",
  "invoice.payment_succeeded",
  "invoice.sent",
  "invoice.marked_uncollectible",
  "invoice.voided",
  "invoice.overdue",
  "invoice.will_be_due",
  "charge.succeeded",
  "charge.failed",
  "charge.pending",
  "charge.captured",
  "charge.expired",
  "charge.refunded",
  "charge.updated",
  "payment_intent.created",
  "payment_intent.succeeded",
  "payment_intent.canceled",
  "payment_intent.processing",
  "payment_intent.payment_failed",
  "payment_intent.requires_action",
  "payment_intent.amount_capturable_updated",
  "payment_intent.partially_funded",
  "refund.created",
  "refund.updated",
  "refund.failed",
  "charge.refund.updated",
];

/** An event object, as much of it as the mapping needs (docs.stripe.com/api/events/object). */
const eventSchema = z.object({
  id: z.string().min(1),
  object: z.literal("event"),
  type: z.string().min(1),
  created: z.number().int().nonnegative(),
  data: z.object({ object: z.looseObject({ object: z.string().optional(), id: z.unknown().optional() }) }),
});

/** `webhook_secret` as given: one secret, a list, or several separated by spaces or commas. */
export function splitSecrets(value: string | string[] | undefined): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.flatMap((s) => s.split(/[\s,]+/)).filter(Boolean);
}

export function stripeWebhooks(secrets: string[]): WebhookSupport {
  return {
    secretField: "webhook_secret",
    secretSet: secrets.length > 0,
    subscribe: STRIPE_WEBHOOK_EVENTS,
    setup:
      "Register the URL in Stripe (Dashboard → Developers → Webhooks → Add endpoint, or POST /v1/webhook_endpoints with url and enabled_events), then copy the endpoint's signing secret (whsec_…) into the source's webhook_secret.",
    verify: (rawBody, headers, now) => verify(secrets, rawBody, headers, now),
    toChange,
  };
}

function verify(secrets: string[], rawBody: Uint8Array, headers: Headers, now: number): WebhookVerification {
  if (secrets.length === 0) return { ok: false, error: "webhooks are not set up: webhook_secret is not set" };
  const header = headers.get("stripe-signature");
  if (!header) return { ok: false, error: "missing Stripe-Signature header" };
  const stamps: string[] = [];
  const signatures: string[] = [];
  for (const element of header.split(",")) {
    const at = element.indexOf("=");
    if (at < 0) continue;
    const [prefix, value] = [element.slice(0, at).trim(), element.slice(at + 1).trim()];
    if (prefix === "t") stamps.push(value);
    else if (prefix === "v1") signatures.push(value);
  }
  if (stamps.length !== 1 || !/^\d{1,12}$/.test(stamps[0])) return { ok: false, error: "Stripe-Signature has no valid timestamp (t=…)" };
  if (signatures.length === 0) return { ok: false, error: "Stripe-Signature has no v1 signature" };
  const t = stamps[0];
  // Every secret against every v1: one of each may be current while a rolled secret has not expired.
  const matches = secrets.some((secret) => {
    const expected = hmacSha256(secret, `${t}.`, rawBody);
    return signatures.some((signature) => hexSignatureMatches(signature, expected));
  });
  if (!matches) return { ok: false, error: "Stripe-Signature matches no webhook_secret: the body was altered, or the secret is not this endpoint's" };
  const skew = now - Number(t);
  if (Math.abs(skew) > STRIPE_SIGNATURE_TOLERANCE_SECONDS) {
    return { ok: false, error: `Stripe-Signature timestamp is ${Math.abs(skew)} s ${skew > 0 ? "old" : "ahead"} (tolerance ${STRIPE_SIGNATURE_TOLERANCE_SECONDS} s): a replayed delivery, or a clock out of sync` };
  }
  const body = parseJsonBody(rawBody);
  if (!body.ok) return body;
  const event = eventSchema.safeParse(body.value);
  if (!event.success) return { ok: false, error: `the body is not a Stripe event: ${event.error.issues[0].path.join(".") || "event"}: ${event.error.issues[0].message}` };
  return { ok: true, event: { id: event.data.id, type: event.data.type, payload: body.value } };
}

/**
 * `data.object` of an event about an object the connector syncs, as the Events API replay
 * writes it. The version is the event's `created`: Stripe's objects carry no "updated" time,
 * and `created` is when Stripe made the change, on Stripe's clock — the order the Events API
 * lists them in. It counts seconds (see eventVersion): two changes of one object in the same
 * second tie, and the later write wins — the next replay writes them in Stripe's order.
 */
function toChange(event: WebhookEvent): WebhookChange | null {
  const stripeEvent = eventSchema.parse(event.payload) as unknown as StripeEvent;
  const object = stripeEvent.data.object;
  const entity = Object.entries(EVENT_ENTITIES).find(([, spec]) => spec.object === object.object)?.[0];
  if (!entity || typeof object.id !== "string") return null;
  return {
    entity,
    objectId: object.id,
    record: eventRecord(stripeEvent),
    version: eventVersion(stripeEvent.created),
    deleted: isDeletion(stripeEvent),
  };
}
