// What a user needs to register a source's webhook endpoint with its vendor, and whether
// events arrive: for `mako sources webhook NAME` and the source page.
import type { Mako } from "../Mako";

export interface WebhookSetup {
  source: string;
  connector: string;
  /** False when the connector takes no webhooks; the other fields are then absent. */
  supported: boolean;
  /** The endpoint's path on `mako serve`: `/hooks/NAME`. */
  path: string;
  secretField?: string;
  secretSet?: boolean;
  /** The vendor's event types to subscribe to. */
  subscribe?: string[];
  /** Where to register the endpoint at the vendor. */
  setup?: string;
  /** When the last verified event arrived. */
  lastEventAt?: string | null;
  /** Events stored and not yet applied. */
  pending?: number;
}

export async function describeWebhook(mako: Mako, name: string): Promise<WebhookSetup> {
  const source = await mako.store.getSource(name);
  const base = { source: name, connector: source.connector, path: `/hooks/${name}` };
  const support = mako.createConnector(source.connector, source).webhookEvents();
  if (!support) return { ...base, supported: false };
  const { lastReceivedAt, pending } = await mako.store.inbox.summary(name);
  return {
    ...base,
    supported: true,
    secretField: support.secretField,
    secretSet: support.secretSet,
    subscribe: support.subscribe,
    setup: support.setup,
    lastEventAt: lastReceivedAt,
    pending,
  };
}
