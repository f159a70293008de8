// How the vendor fakes deliver webhooks: a POST per event and endpoint, signed afresh at each
// attempt, retried on anything but a 2xx with exponential backoff until the vendor's give-up
// time. Each fake brings its vendor's schedule and signature; tests shrink the schedule.
import { setMaxListeners } from "node:events";

/** When to retry a failed delivery. */
export interface RetrySchedule {
  /** Wait before the first retry. */
  firstRetryMs: number;
  /** Each wait is the previous one times this… */
  factor: number;
  /** …up to this. */
  maxRetryMs: number;
  /** No attempt starts later than this after the first: the delivery is then dropped. */
  giveUpAfterMs: number;
  /** An attempt not answered within this failed. */
  timeoutMs: number;
}

export interface DeliveryAttempt {
  /** Epoch ms when the attempt started. */
  at: number;
  /** The HTTP status, or null when the request failed (refused, timed out). */
  status: number | null;
  /** The body of the answer (its first 500 characters), or the error. */
  answer: string;
}

export interface Delivery {
  /** The vendor's event id. */
  eventId: string;
  /** The endpoint or subscription it goes to. */
  endpoint: string;
  url: string;
  attempts: DeliveryAttempt[];
  state: "pending" | "delivered" | "dropped";
}

export interface OutgoingWebhook {
  eventId: string;
  endpoint: string;
  url: string;
  body: string;
  /** The headers of one attempt, signature included: called at each attempt. */
  headers(): Record<string, string>;
  schedule: RetrySchedule;
}

export class WebhookSender {
  readonly deliveries: Delivery[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly stop = new AbortController();

  constructor() {
    // Every pending delivery listens to `stop`: thousands at once are expected, not a leak.
    setMaxListeners(0, this.stop.signal);
  }

  /** Starts delivering (the first attempt right away); follow it in `deliveries`. */
  send(hook: OutgoingWebhook): Delivery {
    const delivery: Delivery = { eventId: hook.eventId, endpoint: hook.endpoint, url: hook.url, attempts: [], state: "pending" };
    this.deliveries.push(delivery);
    const run = this.deliver(hook, delivery).finally(() => this.running.delete(run));
    this.running.add(run);
    return delivery;
  }

  /** Resolves once no delivery is pending (delivered or dropped), new ones included. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Stops every pending delivery (a vendor whose endpoint was deleted). */
  close(): void {
    this.stop.abort();
  }

  private async deliver(hook: OutgoingWebhook, delivery: Delivery): Promise<void> {
    const first = Date.now();
    let wait = hook.schedule.firstRetryMs;
    for (;;) {
      if (this.stop.signal.aborted) return void (delivery.state = "dropped");
      const attempt: DeliveryAttempt = { at: Date.now(), status: null, answer: "" };
      delivery.attempts.push(attempt);
      try {
        const res = await fetch(hook.url, {
          method: "POST",
          headers: hook.headers(),
          body: hook.body,
          signal: AbortSignal.any([AbortSignal.timeout(hook.schedule.timeoutMs), this.stop.signal]),
        });
        attempt.status = res.status;
        attempt.answer = (await res.text()).slice(0, 500);
        if (res.status >= 200 && res.status < 300) return void (delivery.state = "delivered");
      } catch (err) {
        attempt.answer = String((err as Error).cause ?? (err as Error).message);
      }
      if (Date.now() + wait - first > hook.schedule.giveUpAfterMs) return void (delivery.state = "dropped");
      await sleep(wait, this.stop.signal);
      wait = Math.min(hook.schedule.maxRetryMs, wait * hook.schedule.factor);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
