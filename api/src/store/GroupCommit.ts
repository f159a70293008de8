/**
 * Group commit: items added while a commit is being prepared or running go into the next one,
 * so a burst of concurrent callers shares one transaction (one disk flush) instead of paying
 * one each. Each caller's promise settles only after the commit holding its item: with its own
 * result, or with the commit's error.
 */
export class GroupCommit<T, R> {
  private queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(
    /** Commits the items in one transaction; returns one result per item, in order. */
    private readonly commit: (items: T[]) => Promise<R[]> | R[],
    private readonly maxBatch = 500,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        // After this turn of the event loop: the callers of the same burst join this commit.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const results = await this.commit(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(results[i]));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    this.running = false;
  }
}
