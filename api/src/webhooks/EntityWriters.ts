/**
 * Which entities a sync of this process is writing now. While one is, its webhook events are the
 * sync's to apply (one writer per entity); when it stops, whoever waits is told.
 */
export class EntityWriters {
  private readonly active = new Map<string, number>();
  private readonly listeners = new Set<(source: string, entity: string) => void>();

  set(source: string, entity: string, writing: boolean): void {
    const key = `${source}\u0000${entity}`;
    const n = (this.active.get(key) ?? 0) + (writing ? 1 : -1);
    if (n > 0) this.active.set(key, n);
    else this.active.delete(key);
    if (!writing) for (const listener of this.listeners) listener(source, entity);
  }

  busy(source: string, entity: string): boolean {
    return this.active.has(`${source}\u0000${entity}`);
  }

  /** Called each time a sync stops writing an entity; returns the unsubscribe. */
  onRelease(listener: (source: string, entity: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
