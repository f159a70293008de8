import type { EntityResult, SyncEvent } from "../sync/events";

const number = new Intl.NumberFormat("en-US");
export const fmt = (n: number) => number.format(Math.round(n));

/** A one-line error and a non-zero exit: what every command does on bad input. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** A failed connection test on add (`field: "test"`) says how to store the thing anyway. */
export async function withNoTestHint<T>(adding: Promise<T>): Promise<T> {
  try {
    return await adding;
  } catch (err) {
    if (err?.field === "test") throw new CliError(`${err.message}; nothing was stored (--no-test stores it without the test)`);
    throw err;
  }
}

export function summaryLine(r: EntityResult): string {
  const rate = r.seconds > 0 ? r.records / r.seconds : r.records;
  const base = `${r.entity}: ${fmt(r.records)} records in ${r.seconds.toFixed(1)} s (${fmt(rate)} records/s)`;
  const extra = [
    r.resumed ? "resumed" : "",
    r.mode === "full_refresh" ? "full refresh" : r.since !== null ? `since ${r.since}` : "",
    r.deleted ? `${fmt(r.deleted)} marked deleted` : "",
    r.chunkRetries ? `${r.chunkRetries} chunk retries` : "",
  ].filter(Boolean);
  const status = r.status === "succeeded" ? "" : ` — ${r.status.toUpperCase()}${r.error ? `: ${r.error}` : ""}`;
  return `${base}${extra.length ? ` [${extra.join(", ")}]` : ""}${status}`;
}

/** " (2 attempts: host/12, host/34)" for an entity that workers had to take over; "" otherwise. */
export function workedBy(e: EntityResult): string {
  return e.attempts && e.attempts > 1 ? ` (${e.attempts} attempts: ${(e.workers ?? []).join(", ")})` : "";
}

/**
 * Live progress on a terminal: one line per entity, redrawn at most 10 times a second.
 * Off a terminal it prints nothing but log lines at warn level and above.
 */
export class ProgressView {
  private readonly rows = new Map<string, { committed: number; fetched: number; total?: number; elapsedMs: number }>();
  private drawn = 0;
  private lastDraw = 0;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr, private readonly live = out.isTTY === true) {}

  onEvent = (event: SyncEvent): void => {
    if (event.type === "progress") {
      this.rows.set(event.entity, event);
      if (this.live && Date.now() - this.lastDraw > 100) this.draw();
    } else if (event.type === "log" && (event.level === "warn" || event.level === "error")) {
      this.print(`${event.level}: ${event.entity ? `${event.entity}: ` : ""}${event.message}`);
    }
  };

  finish(): void {
    if (this.live) this.clear();
  }

  private print(line: string): void {
    if (this.live) this.clear();
    this.out.write(line + "\n");
    if (this.live) this.draw();
  }

  private clear(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private draw(): void {
    this.clear();
    this.lastDraw = Date.now();
    for (const [entity, r] of this.rows) {
      const rate = r.elapsedMs > 0 ? (r.committed * 1000) / r.elapsedMs : 0;
      const share = r.total ? Math.min(1, r.committed / r.total) : undefined;
      const bar = share === undefined ? "" : `${"█".repeat(Math.round(share * 20)).padEnd(20, "░")} ${Math.round(share * 100)}% `;
      this.out.write(`${entity.padEnd(16)} ${bar}${fmt(r.committed)} committed, ${fmt(rate)} rec/s\n`);
      this.drawn++;
    }
  }
}
