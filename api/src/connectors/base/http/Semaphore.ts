interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** A FIFO counting semaphore whose waiters leave the queue when their signal aborts. */
export class Semaphore {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(private limit: number) {}

  get inUse(): number {
    return this.used;
  }

  setLimit(limit: number): void {
    this.limit = limit;
    this.wakeWaiters();
  }

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.used < this.limit && this.waiters.length === 0) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
    });
  }

  release(): void {
    this.used--;
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    while (this.used < this.limit && this.waiters.length > 0) {
      const waiter = this.waiters.shift()!;
      if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
      this.used++;
      waiter.resolve();
    }
  }
}
