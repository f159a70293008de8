import type { BaseConnector } from "../connectors/base/BaseConnector";
import type { EntityDescriptor } from "../connectors/base/types";
import type { Destination } from "../destinations/Destination";
import type { WebhookInbox } from "../store/WebhookInbox";
import type { ChangeFeed } from "../sync/ChangeFeed";
import { applyEvents, eventsSince } from "./apply";
import type { EntityWriters } from "./EntityWriters";

/** A source's webhook inbox as the engine's ChangeFeed: what a sync of the source applies as its entities' writer. */
export class InboxFeed implements ChangeFeed {
  constructor(
    private readonly inbox: WebhookInbox,
    private readonly source: string,
    private readonly writers?: EntityWriters,
  ) {}

  /** The feed for a sync of `source`, when its connector takes webhooks. */
  static forSource(inbox: WebhookInbox, source: string, connector: BaseConnector, writers?: EntityWriters): InboxFeed | undefined {
    let takesWebhooks: boolean;
    try {
      takesWebhooks = connector.webhookEvents() !== undefined;
    } catch {
      takesWebhooks = false; // a config the webhook side cannot read: the endpoint refuses deliveries too
    }
    return takesWebhooks ? new InboxFeed(inbox, source, writers) : undefined;
  }

  async applyPending(entity: EntityDescriptor, destination: Destination, fence?: number): Promise<number> {
    return (await applyEvents({ inbox: this.inbox, destination, source: this.source, entity, fence })).events;
  }

  receivedSince(entity: EntityDescriptor, since: string) {
    return eventsSince(this.inbox, this.source, entity, since);
  }

  writing(entity: string, active: boolean): void {
    this.writers?.set(this.source, entity, active);
  }
}
