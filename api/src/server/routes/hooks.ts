import { Hono } from "hono";
import type { Mako } from "../../Mako";
import { acceptWebhook, webhookTarget, type Refusal } from "../../webhooks/receive";
import { declaredOver, readRawBody } from "../rawBody";

/** Largest webhook body taken (1 MiB): Stripe's and Close's events are a few KB. */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

/**
 * `POST /hooks/SOURCE`: a vendor's webhook deliveries. Outside `/api` and its token: a vendor
 * cannot send Mako's token, and the signature over the body is the authentication. The raw
 * body is read (capped) and verified before it is parsed; 200 only once the event is stored.
 */
export function hookRoutes(mako: Mako, options: { onStored?: (source: string, entity: string) => void } = {}): Hono {
  const app = new Hono();

  app.post("/:source", async (c) => {
    const tooLarge = () => c.json({ error: `the body is larger than ${WEBHOOK_BODY_LIMIT} bytes` }, 413);
    if (declaredOver(c.req.raw, WEBHOOK_BODY_LIMIT)) return tooLarge();
    const refuse = (refusal: Refusal) => {
      // A 503 is this server's trouble (the vendor retries): say it where the operator looks.
      if (refusal.status === 503) console.error(`mako serve: ${c.req.path}: ${refusal.error}`);
      return c.json({ error: refusal.error }, refusal.status);
    };
    const target = await webhookTarget(mako, c.req.param("source"));
    if (!target.ok) return refuse(target);
    const raw = await readRawBody(c.req.raw, WEBHOOK_BODY_LIMIT);
    if (!raw) return tooLarge();
    const receipt = await acceptWebhook(mako.store.inbox, target, raw, c.req.raw.headers);
    if (!receipt.ok) return refuse(receipt);
    // Stored: whoever applies events is told (after the commit; it never delays the answer).
    if (!receipt.duplicate && receipt.entity !== null) options.onStored?.(target.source, receipt.entity);
    return c.json({ received: receipt.eventId, duplicate: receipt.duplicate });
  });

  app.all("*", (c) => c.json({ error: `webhooks are delivered with POST /hooks/SOURCE, not ${c.req.method} ${c.req.path}` }, c.req.method === "POST" ? 404 : 405));

  return app;
}
