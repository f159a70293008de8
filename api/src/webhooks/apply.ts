// Applying stored webhook events to the entity's table: in arrival order, in batches, each
// batch written under the destination's version guard and only then marked applied. A process
// killed between the two applies the batch again next time, which changes nothing (the guard
// keeps the newer of equal or older versions), so nothing is lost and nothing goes backwards.
import type { DataRecord, EntityDescriptor } from "../connectors/base/types";
import type { Destination } from "../destinations/Destination";
import type { Mako } from "../Mako";
import type { StoredInboxEvent, WebhookInbox } from "../store/WebhookInbox";
import { eventRows } from "./eventRecords";

/** Events read and applied in one transaction. */
export const APPLY_BATCH = 500;

export interface AppliedEvents {
  /** Events marked applied. */
  events: number;
  /** Rows written, and rows the guard kept because they were newer. */
  applied: number;
  skipped: number;
  /** Events of an entity the source does not sync: marked applied, nothing written. */
  ignored: number;
  /** Events with no row to write (no record, no primary key value): marked applied, nothing written. */
  unusable: number;
}

export interface ApplyTarget {
  inbox: WebhookInbox;
  destination: Destination;
  source: string;
  entity: EntityDescriptor;
  /** The writer's fence (a worker's lease): a batch is refused once another writer took the entity. */
  fence?: number;
  /** Test seam: runs after a batch's commit, before its events are marked applied. */
  afterApply?: (events: StoredInboxEvent[]) => Promise<void> | void;
}

/** Applies the entity's pending events, batch by batch, until none are left. */
export async function applyEvents(target: ApplyTarget): Promise<AppliedEvents> {
  const done: AppliedEvents = { events: 0, applied: 0, skipped: 0, ignored: 0, unusable: 0 };
  let afterSeq = 0;
  for (;;) {
    const events = await target.inbox.pending(target.source, target.entity.name, { afterSeq, limit: APPLY_BATCH });
    if (events.length === 0) return done;
    afterSeq = events[events.length - 1].seq;
    const { records, unusable } = eventRows(events, target.entity);
    done.unusable += unusable.length;
    if (records.length > 0) {
      const result = await target.destination.applyChanges({
        table: { namespace: target.source, entity: target.entity.name },
        primaryKey: target.entity.primaryKey,
        records,
        syncedAt: new Date().toISOString(),
        fence: target.fence,
      });
      done.applied += result.applied;
      done.skipped += result.skipped;
    }
    await target.afterApply?.(events);
    await target.inbox.markApplied(target.source, events.map((e) => e.eventId));
    done.events += events.length;
    if (events.length < APPLY_BATCH) return done;
  }
}

/** The records of the entity's events received since `since` (ISO), applied or not: a full refresh re-applies them after its swap. */
export async function eventsSince(inbox: WebhookInbox, source: string, entity: EntityDescriptor, since: string): Promise<DataRecord[]> {
  // Only each object's latest event is kept while reading: memory goes with the objects changed,
  // not with the events (eventRows picks again by primary key, for events naming no object).
  const latest = new Map<string, StoredInboxEvent>();
  const unnamed: StoredInboxEvent[] = [];
  for (let afterSeq = 0; ; ) {
    const events = await inbox.receivedSince(source, entity.name, since, { afterSeq, limit: APPLY_BATCH });
    for (const e of events) {
      if (e.objectId === null) unnamed.push(e);
      else if ((e.version ?? -1) >= (latest.get(e.objectId)?.version ?? -1)) latest.set(e.objectId, e);
    }
    if (events.length < APPLY_BATCH) break;
    afterSeq = events[events.length - 1].seq;
  }
  const ordered = [...latest.values(), ...unnamed].sort((a, b) => a.seq - b.seq);
  return eventRows(ordered, entity).records;
}

/**
 * `applyPending(mako, source, entity)`: applies the entity's pending events to the source's
 * destination. Events of an entity the source does not sync (not selected, or unknown to its
 * connector) are marked applied without writing anything: the pull does not write it either.
 */
export async function applyPending(
  mako: Mako,
  sourceName: string,
  entityName: string,
  options: { fence?: number; destination?: Destination; afterApply?: ApplyTarget["afterApply"] } = {},
): Promise<AppliedEvents> {
  const source = await mako.sources.unredacted(sourceName);
  const connector = mako.createConnector(source.connector, source);
  const entity = connector.describeEntities().find((e) => e.name === entityName);
  if (!entity || !mako.entitiesToSync(source).includes(entityName)) return ignoreAll(mako.store.inbox, sourceName, entityName);
  const destination = options.destination ?? (await mako.openDestination(source.destination ?? null));
  try {
    if (options.fence !== undefined) await destination.raiseFence({ namespace: sourceName, entity: entityName }, options.fence);
    return await applyEvents({ inbox: mako.store.inbox, destination, source: sourceName, entity, fence: options.fence, afterApply: options.afterApply });
  } finally {
    if (!options.destination && destination !== mako.defaultDestination) await destination.close();
  }
}

async function ignoreAll(inbox: WebhookInbox, source: string, entity: string): Promise<AppliedEvents> {
  let ignored = 0;
  for (;;) {
    const events = await inbox.pending(source, entity, { limit: APPLY_BATCH });
    if (events.length === 0) return { events: ignored, applied: 0, skipped: 0, ignored, unusable: 0 };
    await inbox.markApplied(source, events.map((e) => e.eventId));
    ignored += events.length;
  }
}
