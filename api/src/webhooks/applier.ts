// SQLite mode (`mako serve`, `npm start`): webhook events are applied in this process. The
// endpoint wakes the applier after storing an event; wakes of one entity within the debounce
// are one application (a burst of events is one transaction, not one per event). An entity a
// sync of this process is writing is left to that sync: it applies the events after each chunk
// (one writer per entity), and the applier looks again when the sync lets go.
import type { Mako } from "../Mako";
import { applyPending } from "./apply";
import { PRUNE_EVERY_MS, pruneBefore, retentionDays } from "./retention";

/** How long a wake waits for more events of the same entity. */
export const APPLY_DEBOUNCE_MS = 150;

export interface ApplierOptions {
  debounceMs?: number;
  retentionDays?: number;
  log?: (line: string) => void;
}

export class WebhookApplier {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Entities being applied now, and whether a wake came meanwhile. */
  private readonly running = new Map<string, { again: boolean; done: Promise<void> }>();
  private readonly debounceMs: number;
  private readonly retentionDays: number;
  private readonly log: (line: string) => void;
  private pruner?: NodeJS.Timeout;
  private unsubscribe?: () => void;
  private stopped = false;

  constructor(
    private readonly mako: Mako,
    options: ApplierOptions = {},
  ) {
    this.debounceMs = options.debounceMs ?? APPLY_DEBOUNCE_MS;
    this.retentionDays = options.retentionDays ?? retentionDays();
    this.log = options.log ?? ((line) => console.error(line));
  }

  /** Applies what is pending from before (a restart), then follows wakes; prunes now and hourly. */
  start(): this {
    this.unsubscribe = this.mako.writers.onRelease((source, entity) => this.wake(source, entity));
    void this.mako.store.inbox.pendingEntities().then(
      (all) => all.forEach(({ source, entity }) => this.wake(source, entity)),
      (err) => this.log(`webhooks: cannot read the pending events (${err.message})`),
    );
    void this.prune();
    this.pruner = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    this.pruner.unref();
    return this;
  }

  /** An event of the entity was stored: apply it (and whatever joins it within the debounce). */
  wake(source: string, entity: string): void {
    if (this.stopped) return;
    const key = `${source}\u0000${entity}`;
    if (this.timers.has(key)) return;
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.apply(source, entity, key);
      }, this.debounceMs),
    );
  }

  private async apply(source: string, entity: string, key: string): Promise<void> {
    // The sync writing the entity applies its events; onRelease wakes us when it ends.
    if (this.mako.writers.busy(source, entity)) return;
    const running = this.running.get(key);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: false, done: Promise.resolve() };
    this.running.set(key, state);
    state.done = (async () => {
      try {
        do {
          state.again = false;
          const done = await applyPending(this.mako, source, entity);
          if (done.ignored > 0) this.log(`webhooks: ${source}.${entity} is not synced: ${done.ignored} events marked applied, nothing written`);
          if (done.unusable > 0) this.log(`webhooks: ${source}.${entity}: ${done.unusable} events carried no row with its primary key; marked applied, nothing written (the next sync reads the objects)`);
        } while (state.again && !this.stopped && !this.mako.writers.busy(source, entity));
      } catch (err) {
        // Left pending: the next event, a sync of the entity or the next start applies them.
        this.log(`webhooks: applying ${source}.${entity} failed (${(err as Error).message}); the events stay pending`);
      } finally {
        this.running.delete(key);
      }
    })();
    await state.done;
  }

  private async prune(): Promise<void> {
    try {
      const n = await this.mako.store.inbox.prune(pruneBefore(this.retentionDays));
      if (n > 0) this.log(`webhooks: pruned ${n} events applied more than ${this.retentionDays} days ago`);
    } catch (err) {
      this.log(`webhooks: pruning failed (${(err as Error).message})`);
    }
  }

  /** Stops waking; waits for applications in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.pruner) clearInterval(this.pruner);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.all([...this.running.values()].map((r) => r.done));
  }
}
