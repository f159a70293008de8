import type { Mako } from "../Mako";
import { APPLY_DEBOUNCE_SECONDS } from "./applyJob";
import { Cluster } from "./Cluster";

/**
 * PostgreSQL mode, in `mako serve`: a stored webhook event asks the workers for an apply job of
 * its entity, to start after the debounce. The queue keeps one waiting job per entity (its
 * "short" policy), and sends within half the debounce of the last are not even made: the job
 * already sent reads the entity's pending events after they were stored.
 */
export class ApplyWaker {
  private readonly lastSent = new Map<string, number>();

  private constructor(
    private readonly cluster: Cluster,
    private readonly log: (line: string) => void,
  ) {}

  static async open(mako: Mako, log: (line: string) => void): Promise<ApplyWaker> {
    const cluster = await Cluster.open(mako, { connections: 2, maintain: false, onError: (err) => log(`queue: ${err.message}`) });
    return new ApplyWaker(cluster, log);
  }

  wake(source: string, entity: string): void {
    const key = `${source}\u0000${entity}`;
    const now = Date.now();
    if (now - (this.lastSent.get(key) ?? -Infinity) < (APPLY_DEBOUNCE_SECONDS * 1000) / 2) return;
    this.lastSent.set(key, now);
    this.cluster.queue.sendApply(this.cluster.pool, { source, entity }, APPLY_DEBOUNCE_SECONDS).catch((err) => {
      // The event is stored: a worker starting, or the entity's next sync, applies it.
      this.lastSent.delete(key);
      this.log(`webhooks: could not ask the workers to apply ${source}.${entity} (${err.message}); it stays pending`);
    });
  }

  async stop(): Promise<void> {
    await this.cluster.close();
  }
}
