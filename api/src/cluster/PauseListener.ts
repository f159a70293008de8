import pg from "pg";
import { PAUSE_CHANNEL } from "./rateLimitSql";

/** A pause another process announced on PAUSE_CHANNEL. */
export interface PauseNotice {
  key: string;
  ms: number;
  reason: string;
  from: string;
}

const MAX_PAYLOAD = 2000;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

/** Reads one notification's payload; anything malformed is ignored (it came over the wire). */
export function parsePauseNotice(payload: string | undefined): PauseNotice | undefined {
  if (!payload || payload.length > MAX_PAYLOAD) return undefined;
  try {
    const n = JSON.parse(payload);
    if (typeof n?.key !== "string" || typeof n.ms !== "number" || !Number.isFinite(n.ms) || typeof n.from !== "string") return undefined;
    return { key: n.key, ms: n.ms, reason: typeof n.reason === "string" ? n.reason : "", from: n.from };
  } catch {
    return undefined;
  }
}

/**
 * LISTENs for pauses on a connection of its own, reconnecting with backoff when it drops, so a
 * 429 seen by one process stops the others within milliseconds (a slot another process already
 * holds is dropped rather than used inside the pause). Best effort: while it is down, the
 * shared `paused_until` still delays every new reservation.
 */
export class PauseListener {
  private client?: pg.Client;
  private timer?: NodeJS.Timeout;
  private delayMs = RECONNECT_MIN_MS;
  private stopped = false;
  /** Resolves once the first LISTEN is in place (or failed). */
  readonly started: Promise<void>;

  constructor(
    private readonly url: string,
    private readonly onNotice: (notice: PauseNotice) => void,
  ) {
    this.started = this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5000 });
    this.client = client;
    const retry = () => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => {});
      this.schedule();
    };
    client.on("error", retry);
    client.on("end", retry);
    client.on("notification", (msg) => {
      if (msg.channel !== PAUSE_CHANNEL) return;
      const notice = parsePauseNotice(msg.payload);
      if (notice) this.onNotice(notice);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${PAUSE_CHANNEL}`);
      this.delayMs = RECONNECT_MIN_MS;
      if (this.stopped) await client.end().catch(() => {});
    } catch {
      retry();
    }
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, this.delayMs);
    this.timer.unref();
    this.delayMs = Math.min(RECONNECT_MAX_MS, this.delayMs * 2);
  }

  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }
}
