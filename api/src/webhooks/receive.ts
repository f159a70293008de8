// A webhook delivery from its arrival to its answer: find the source and its connector's
// webhook support, verify the signature over the raw body, map the event to the row it
// changes, and store it in the inbox before saying 200. The HTTP side (body cap, statuses on
// the wire) is the server's; this holds the rules.
import type { WebhookSupport } from "../connectors/base/webhooks";
import type { Mako } from "../Mako";
import { NotFoundError } from "../store/MetadataStore";
import type { WebhookInbox } from "../store/WebhookInbox";

export type Refusal = { ok: false; status: 400 | 404 | 503; error: string };

export type WebhookTarget = { ok: true; source: string; support: WebhookSupport } | Refusal;

/** `entity`: the entity the stored event changes (null when it changes none the connector syncs). */
export type Receipt = { ok: true; status: 200; eventId: string; duplicate: boolean; entity: string | null } | Refusal;

/** The source a delivery is for, if it takes webhooks and has its secret set. */
export async function webhookTarget(mako: Mako, name: string): Promise<WebhookTarget> {
  let source;
  try {
    source = await mako.store.getSource(name);
  } catch (err) {
    if (err instanceof NotFoundError) return { ok: false, status: 404, error: `no source named "${name}"` };
    return storeDown(err);
  }
  let support: WebhookSupport | undefined;
  try {
    support = mako.createConnector(source.connector, source).webhookEvents();
  } catch (err) {
    // A stored config the connector no longer accepts: the vendor keeps retrying while it is fixed.
    return { ok: false, status: 503, error: `source "${name}" cannot check webhooks: ${(err as Error).message}` };
  }
  if (!support) return { ok: false, status: 404, error: `source "${name}" takes no webhooks: the ${source.connector} connector has no webhook support` };
  if (!support.secretSet) {
    return { ok: false, status: 404, error: `webhooks are not set up for source "${name}": set its ${support.secretField} (see: mako sources webhook ${name})` };
  }
  return { ok: true, source: name, support };
}

/**
 * Verifies a delivery and stores its event once. 400 for a bad signature or an event that does
 * not read (nothing stored); 503 when the inbox cannot take it (the vendor retries); 200 only
 * once the event is committed — also for a delivery of an event stored before.
 */
export async function acceptWebhook(
  inbox: WebhookInbox,
  target: { source: string; support: WebhookSupport },
  rawBody: Uint8Array,
  headers: Headers,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<Receipt> {
  const verified = target.support.verify(rawBody, headers, nowSeconds);
  if (!verified.ok) return { ok: false, status: 400, error: verified.error };
  const event = verified.event;
  let change;
  try {
    change = target.support.toChange(event);
  } catch (err) {
    return { ok: false, status: 400, error: `event ${event.id} (${event.type}): ${(err as Error).message}` };
  }
  try {
    const stored = await inbox.add({
      source: target.source,
      eventId: event.id,
      eventType: event.type,
      entity: change?.entity ?? null,
      objectId: change?.objectId ?? null,
      version: change?.version ?? null,
      deleted: change?.deleted ?? false,
      record: change?.record ?? null,
    });
    return { ok: true, status: 200, eventId: event.id, duplicate: !stored, entity: change?.entity ?? null };
  } catch (err) {
    return storeDown(err);
  }
}

function storeDown(err: unknown): Refusal {
  const e = err as Error & { code?: string };
  const why = (e.message || e.code || String(err)).replace(/\s+/g, " ").trim();
  return { ok: false, status: 503, error: `the metadata store cannot take the event now (${why}); the vendor will retry` };
}
