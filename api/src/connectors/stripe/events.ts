// Stripe's events as both the Events API replay and webhooks read them: which entity an
// event's object belongs to, and the row it leaves (docs.stripe.com/api/events/object,
// docs.stripe.com/api/events/types).
import { markDeleted } from "../base/deletions";
import type { DataRecord } from "../base/types";
import { withVersion } from "../base/version";

/** The Events API's `types[]` filter, as indexed form parameters. */
function typesOf(types: string[]): Record<string, string> {
  return Object.fromEntries(types.map((t, i) => [`types[${i}]`, t]));
}

/** Objects kept current through the Events API, with the events that carry them. */
export const EVENT_ENTITIES = {
  // Explicit types where a wildcard would also match other objects' events (customer.subscription.*,
  // charge.dispute.*): pages of only foreign events would read as empty chunks.
  customers: { object: "customer", events: typesOf(["customer.created", "customer.updated", "customer.deleted"]) },
  products: { object: "product", events: { type: "product.*" } },
  prices: { object: "price", events: { type: "price.*" } },
  subscriptions: { object: "subscription", events: { type: "customer.subscription.*" } },
  invoices: { object: "invoice", events: { type: "invoice.*" } },
  charges: {
    object: "charge",
    events: typesOf(["charge.succeeded", "charge.failed", "charge.pending", "charge.captured", "charge.expired", "charge.refunded", "charge.updated"]),
  },
  payment_intents: { object: "payment_intent", events: { type: "payment_intent.*" } },
  refunds: { object: "refund", events: typesOf(["refund.created", "refund.updated", "refund.failed", "charge.refund.updated"]) },
} as const satisfies Record<string, { object: string; events: Record<string, string> }>;

export interface StripeEvent {
  id: string;
  type: string;
  created: number;
  data: { object: DataRecord & { object?: string; id?: string } };
}

/**
 * The row an event leaves: `data.object`, marked `_mako_deleted_at` when the event deletes it,
 * ranked at the event's version (a replayed event and its webhook rank alike).
 */
export function eventRecord(event: StripeEvent): DataRecord {
  const data = event.data.object;
  const record = isDeletion(event) ? markDeleted({ ...data }, new Date(event.created * 1000)) : data;
  return withVersion(record, eventVersion(event.created));
}

/**
 * An event's version: the last microsecond of its `created` second. Stripe counts whole seconds,
 * so the change happened somewhere in that second; ranked at its end, it beats a list page read
 * earlier in the same second (which may predate it) — ranked at its start, neither the webhook
 * nor the next replay could replace such a page.
 */
export const eventVersion = (created: number) => (created + 1) * 1_000_000 - 1;

/** `*.deleted` removes the object — except a subscription's, which is a cancellation. */
export function isDeletion(event: StripeEvent): boolean {
  return event.type.endsWith(".deleted") && event.type !== "customer.subscription.deleted";
}

/**
 * A list page's version, from Stripe's clock when it answered (its Date header, whole seconds):
 * the second before, since the read may have begun then. An event of that second or later ranks
 * above the page (it may postdate the read; if not, it carries the same state), and the next
 * replay heals the rest.
 */
export const listVersion = (stripeSeconds: number) => (stripeSeconds - 1) * 1_000_000;
