// A webhook apply job (PostgreSQL mode): take the entity's lease, apply its pending events with
// the lease's fence, let go. While another writer holds the lease the job writes nothing: a sync
// applies the events after each chunk, and its job asks for an apply job again when it lets go
// (entityJob.ts); the job itself looks again a second later while events are pending, so none
// is left behind whoever held the entity.
import { applyPending } from "../webhooks/apply";
import { PRUNE_EVERY_MS, pruneBefore, retentionDays } from "../webhooks/retention";
import type { Cluster } from "./Cluster";
import { releaseLease, takeLease } from "./leases";
import type { ApplyJobData } from "./queue";

/** Seconds an apply job waits for more events of its entity. */
export const APPLY_DEBOUNCE_SECONDS = 0.15;

export async function runApplyJob(cluster: Cluster, workerId: string, job: { id: string; data: ApplyJobData }, log: (line: string) => void): Promise<void> {
  const { source, entity } = job.data;
  const lease = await takeLease(cluster.pool, source, entity, `${workerId}#apply:${job.id}`, cluster.leaseSeconds);
  if (!lease) {
    // Another writer has the entity: a sync applies its events after each chunk (and asks for a
    // job when it lets go); another apply job may have read the pending events before this one's
    // arrived. Looked at again in a moment, while any are left: one waiting job at most.
    await sendLater(cluster, source, entity);
    return;
  }
  try {
    const done = await applyPending(cluster.mako, source, entity, { fence: lease.fence });
    if (done.ignored > 0) log(`${source}.${entity}: not synced; ${done.ignored} webhook events marked applied, nothing written`);
    if (done.unusable > 0) log(`${source}.${entity}: ${done.unusable} webhook events carried no row with its primary key; marked applied, nothing written`);
  } finally {
    await releaseLease(cluster.pool, lease).catch(() => {});
  }
  // Events stored after the last read, whose job found the lease held: applied now.
  await applyIfPending(cluster, source, entity);
}

/** Seconds before looking again at an entity another writer holds. */
const HELD_RETRY_SECONDS = 1;

async function sendLater(cluster: Cluster, source: string, entity: string): Promise<void> {
  const pending = await cluster.mako.store.inbox.pending(source, entity, { limit: 1 });
  if (pending.length > 0) await cluster.queue.sendApply(cluster.pool, { source, entity }, HELD_RETRY_SECONDS);
}

/** Asks for an apply job of the entity when it has pending events (a sync let it go; a worker starts). */
export async function applyIfPending(cluster: Cluster, source: string, entity: string): Promise<void> {
  const pending = await cluster.mako.store.inbox.pending(source, entity, { limit: 1 });
  if (pending.length > 0) await cluster.queue.sendApply(cluster.pool, { source, entity }, 0);
}

/** A worker starting: one apply job per entity with pending events, and pruning now and hourly. */
export async function startApplying(cluster: Cluster, log: (line: string) => void): Promise<() => void> {
  for (const { source, entity } of await cluster.mako.store.inbox.pendingEntities()) {
    await cluster.queue.sendApply(cluster.pool, { source, entity }, 0);
  }
  const days = retentionDays();
  const prune = () =>
    cluster.mako.store.inbox.prune(pruneBefore(days)).then(
      (n) => n > 0 && log(`webhooks: pruned ${n} events applied more than ${days} days ago`),
      (err) => log(`webhooks: pruning failed (${err.message})`),
    );
  void prune();
  const timer = setInterval(() => void prune(), PRUNE_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
