import pg from "pg";
import { inTransaction } from "../store/pgTransaction";
import { randomBytes } from "node:crypto";
import { RateLimitBackendError } from "../connectors/base/http/SlotSource";
import { serverOf } from "../store/PostgresStore";
import { PauseListener, type PauseNotice } from "./PauseListener";
import { PostgresSlotSource } from "./PostgresSlotSource";
import { CREATE_RATE_LIMITS } from "./rateLimitSql";

/** Waits before the 2nd and 3rd try of a reservation: about half a second of PostgreSQL trouble is absorbed. */
const RETRY_DELAYS_MS = [100, 400];
const CONNECT_TIMEOUT_MS = 2000;
/** A statement stuck longer than this (a hung server) fails like an unreachable one. */
const QUERY_TIMEOUT_MS = 5000;
/** Connections of the pool: reservations of one key are serialised by each process's limiter. */
const POOL_SIZE = 2;

export interface RateLimitStats {
  /** Statements sent (reservations, pauses, clamps, lookups), tries included. */
  statements: number;
  /** Slots reserved. */
  reservations: number;
  /** Reservations refused because the slot was further than the caller would wait. */
  refused: number;
  /** Pauses, slow-downs and clamps that did not reach PostgreSQL. */
  lostUpdates: number;
}

/**
 * The rate limits of every data source, shared by all processes using one PostgreSQL
 * database (table `mako.rate_limits`, see rateLimitSql.ts). Lazy: nothing connects before the
 * first slot source is used, so commands that never sync open no connection for it.
 */
export class PostgresRateLimits {
  /** Tells this process's own pause notifications from others'. */
  readonly id = randomBytes(8).toString("hex");
  readonly stats: RateLimitStats = { statements: 0, reservations: 0, refused: 0, lostUpdates: 0 };
  /** The reservation log: each slot granted, with its start on the database clock (epoch ms). */
  onReservation?: (key: string, startMs: number) => void;
  private readonly pool: pg.Pool;
  private readonly sources = new Map<string, Set<PostgresSlotSource>>();
  private ready?: Promise<void>;
  private listener?: PauseListener;
  private closed = false;

  constructor(private readonly url: string) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: POOL_SIZE,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: QUERY_TIMEOUT_MS,
      allowExitOnIdle: true,
    });
    this.pool.on("error", () => {}); // an idle client's dropped connection surfaces on the next query
  }

  /** The slot source of one limiter key. */
  slotSource(key: string): PostgresSlotSource {
    const source = new PostgresSlotSource(this, key);
    let set = this.sources.get(key);
    if (!set) this.sources.set(key, (set = new Set()));
    set.add(source);
    this.listener ??= new PauseListener(this.url, (notice) => this.deliver(notice));
    return source;
  }

  /** Resolves once this process listens for other processes' pauses (tests wait for it). */
  async listening(): Promise<void> {
    await this.listener?.started;
  }

  private deliver(notice: PauseNotice): void {
    if (notice.from === this.id || notice.ms <= 0) return;
    for (const source of this.sources.get(notice.key) ?? []) source.remotePause(notice.ms, notice.reason);
  }

  /**
   * One statement, retried briefly when PostgreSQL fails; then a `RateLimitBackendError`
   * naming the server (never the password).
   */
  async query<R extends pg.QueryResultRow>(sql: string, params: unknown[], retry = true): Promise<R[]> {
    if (this.closed) throw new RateLimitBackendError("the shared rate limit is closed");
    const delays = retry ? RETRY_DELAYS_MS : [];
    for (let attempt = 0; ; attempt++) {
      try {
        await this.setup();
        this.stats.statements++;
        return (await this.pool.query<R>(sql, params)).rows;
      } catch (err) {
        if (attempt >= delays.length || this.closed) {
          throw new RateLimitBackendError(`the rate limit shared in PostgreSQL at ${serverOf(this.url)} is unreachable: ${oneLine(err)}`, { cause: err });
        }
        await new Promise((resolve) => setTimeout(resolve, delays[attempt]));
      }
    }
  }

  /** Creates the table once per process (again after a failure). */
  private setup(): Promise<void> {
    this.ready ??= (async () => {
      await inTransaction(this.pool, async (client) => {
        // The store takes the same lock: two processes on a fresh database would race on CREATE SCHEMA.
        await client.query(`SELECT pg_advisory_xact_lock(hashtext('mako:metadata-setup'))`);
        await client.query(CREATE_RATE_LIMITS);
      });
    })().catch((err) => {
      this.ready = undefined;
      throw err;
    });
    return this.ready;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener?.close();
    await this.pool.end().catch(() => {});
  }
}

/** pg's errors can be AggregateErrors (one per address tried) with an empty message. */
function oneLine(err: unknown): string {
  const e = err as Error & { errors?: Error[]; code?: string };
  const message = e.message || e.errors?.map((x) => x.message).join("; ") || e.code || String(err);
  return message.replace(/\s+/g, " ").trim().slice(0, 300);
}
