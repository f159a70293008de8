import pg from "pg";
import { inTransaction } from "./pgTransaction";
import type { EntityResult, RequestStats } from "../sync/events";
import {
  ConflictError,
  NotFoundError,
  SourceBusyError,
  type DestinationRecord,
  type LogLine,
  type MetadataStore,
  type NewSource,
  type RunRecord,
  type RunTrigger,
  type SourceRecord,
} from "./MetadataStore";
import { PostgresWebhookInbox, postgresInboxDdl } from "./PostgresWebhookInbox";
import { PostgresSchedules, postgresSchedulesDdl } from "./PostgresSchedules";
import type { SecretBox } from "./SecretBox";
import { type DestinationRow, type RunRow, type SourceRow, destinationFrom, entitiesJson, sealConfig, sourceFrom, storeMessages as say } from "./storeRows";
import { addRunColumns, cancelRun, insertRun, postgresRunsDdl, reapDeadRuns, runsWithEntities, saveProgress } from "./postgresRuns";
import { METADATA_SCHEMA } from "./postgresUrl";
export { METADATA_SCHEMA, isPostgresUrl } from "./postgresUrl";

const UNIQUE_VIOLATION = "23505";
/** How long connecting may take before DATABASE_URL is reported unreachable. */
const CONNECT_TIMEOUT_MS = 10_000;

// Timestamps come back as ISO strings (what SQLite stores), bigint ids as numbers.
const TIMESTAMPTZ = 1184;
const INT8 = 20;
const getTypeParser = ((oid: number, format?: string) => {
  if (oid === TIMESTAMPTZ) return (v: string) => new Date(v).toISOString();
  if (oid === INT8) return Number;
  return pg.types.getTypeParser(oid, format as "text");
}) as typeof pg.types.getTypeParser;

/** "postgres://user:***@host:port/db": what a user can be shown of a connection URL. */
export function describePostgresUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

/**
 * Mako's metadata in PostgreSQL (DATABASE_URL), schema `mako`: the same records and rules as
 * SqliteStore, with row locks and an advisory lock where SQLite takes its file lock.
 */
export class PostgresStore implements MetadataStore {
  readonly inbox: PostgresWebhookInbox;
  readonly schedules: PostgresSchedules;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly secrets: SecretBox,
  ) {
    this.inbox = new PostgresWebhookInbox(pool, METADATA_SCHEMA);
    this.schedules = new PostgresSchedules(pool, METADATA_SCHEMA);
  }

  /** Connects and creates the schema if needed; a bad URL fails in one line naming the server. */
  static async open(url: string, secrets: SecretBox): Promise<PostgresStore> {
    const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, types: { getTypeParser } });
    pool.on("error", () => {}); // an idle client's dropped connection surfaces on the next query
    // A checked-out client has no listener of the pool's: a server that drops it (a restart) would
    // end the process with an unhandled "error" event. The query in flight fails with it anyway.
    pool.on("connect", (client) => client.on("error", () => {}));
    const store = new PostgresStore(pool, secrets);
    try {
      await store.setup();
    } catch (err) {
      await pool.end().catch(() => {});
      throw new Error(`cannot use PostgreSQL at ${serverOf(url)} (DATABASE_URL) for Mako's metadata: ${oneLine(err)}`);
    }
    return store;
  }

  private async setup(): Promise<void> {
    await this.transaction(async (client) => {
      // Two processes opening a fresh database at once would race on CREATE SCHEMA.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('mako:metadata-setup'))`);
      await client.query(`
        CREATE SCHEMA IF NOT EXISTS ${METADATA_SCHEMA};
        CREATE TABLE IF NOT EXISTS ${METADATA_SCHEMA}.sources (
          name text PRIMARY KEY, connector text NOT NULL, config_sealed text NOT NULL,
          settings_json jsonb NOT NULL DEFAULT '{}', destination text,
          created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
        -- Databases made before sources kept their entity selection lack the column.
        ALTER TABLE ${METADATA_SCHEMA}.sources ADD COLUMN IF NOT EXISTS entities_json jsonb;
        CREATE TABLE IF NOT EXISTS ${METADATA_SCHEMA}.destinations (
          name text PRIMARY KEY, kind text NOT NULL, url_sealed text NOT NULL, created_at timestamptz NOT NULL);
        CREATE TABLE IF NOT EXISTS ${METADATA_SCHEMA}.runs (
          seq bigserial UNIQUE, id text PRIMARY KEY, source text NOT NULL, status text NOT NULL,
          full_refresh boolean NOT NULL, destination text, started_at timestamptz NOT NULL, finished_at timestamptz,
          entities_json jsonb NOT NULL DEFAULT '[]', stats_json jsonb NOT NULL DEFAULT '{}',
          error text, pid integer NOT NULL, host text NOT NULL);
        CREATE INDEX IF NOT EXISTS runs_source ON ${METADATA_SCHEMA}.runs (source, started_at);
        -- The invariant startRun keeps, held by the database itself: one live run per source.
        CREATE UNIQUE INDEX IF NOT EXISTS runs_one_live_per_source ON ${METADATA_SCHEMA}.runs (source) WHERE status = 'running';
        CREATE TABLE IF NOT EXISTS ${METADATA_SCHEMA}.run_logs (
          id bigserial PRIMARY KEY, run_id text NOT NULL, at timestamptz NOT NULL, level text NOT NULL,
          entity text, message text NOT NULL);
        CREATE INDEX IF NOT EXISTS run_logs_run ON ${METADATA_SCHEMA}.run_logs (run_id, id);
        ${postgresInboxDdl(METADATA_SCHEMA)}`);
      await addRunColumns(client);
      await client.query(postgresRunsDdl);
      await client.query(postgresSchedulesDdl(METADATA_SCHEMA));
    });
  }

  // --- sources ------------------------------------------------------------------------

  async addSource(source: NewSource): Promise<SourceRecord> {
    const now = new Date().toISOString();
    try {
      await this.pool.query(
        `INSERT INTO ${METADATA_SCHEMA}.sources (name, connector, config_sealed, settings_json, destination, entities_json, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
        [source.name, source.connector, sealConfig(this.secrets, source.config), JSON.stringify(source.settings), source.destination, entitiesJson(source.entities), now],
      );
    } catch (err) {
      if (err.code === UNIQUE_VIOLATION) throw new ConflictError(say.sourceExists(source.name));
      throw err;
    }
    return this.getSource(source.name);
  }

  async getSource(name: string): Promise<SourceRecord> {
    const { rows } = await this.pool.query<SourceRow>(`SELECT * FROM ${METADATA_SCHEMA}.sources WHERE name = $1`, [name]);
    if (!rows[0]) throw new NotFoundError(say.noSource(name));
    return sourceFrom(rows[0], this.secrets);
  }

  async listSources(): Promise<SourceRecord[]> {
    const { rows } = await this.pool.query<SourceRow>(`SELECT * FROM ${METADATA_SCHEMA}.sources ORDER BY name`);
    return rows.map((r) => sourceFrom(r, this.secrets));
  }

  async listSourceNames(): Promise<string[]> {
    const { rows } = await this.pool.query<{ name: string }>(`SELECT name FROM ${METADATA_SCHEMA}.sources ORDER BY name`);
    return rows.map((r) => r.name);
  }

  async updateSource(name: string, patch: Partial<Pick<SourceRecord, "config" | "settings" | "destination" | "entities">>): Promise<SourceRecord> {
    const current = await this.getSource(name);
    const next = { ...current, ...patch };
    await this.pool.query(
      `UPDATE ${METADATA_SCHEMA}.sources SET config_sealed = $1, settings_json = $2, destination = $3, entities_json = $4, updated_at = $5 WHERE name = $6`,
      [sealConfig(this.secrets, next.config), JSON.stringify(next.settings), next.destination, entitiesJson(next.entities), new Date().toISOString(), name],
    );
    return this.getSource(name);
  }

  async removeSource(name: string): Promise<void> {
    await this.transaction(async (client) => {
      // startRun's lock: no run of the source can start between the check and the delete.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('mako:run:' || $1))`, [name]);
      await reapDeadRuns(client);
      const busy = await client.query<{ id: string }>(`SELECT id FROM ${METADATA_SCHEMA}.runs WHERE source = $1 AND status = 'running'`, [name]);
      if (busy.rows[0]) throw new SourceBusyError(name, busy.rows[0].id);
      const { rowCount } = await client.query(`DELETE FROM ${METADATA_SCHEMA}.sources WHERE name = $1`, [name]);
      if (rowCount === 0) throw new NotFoundError(say.noSource(name));
    });
  }

  // --- destinations -------------------------------------------------------------------

  async addDestination(d: Omit<DestinationRecord, "createdAt">): Promise<DestinationRecord> {
    try {
      await this.pool.query(`INSERT INTO ${METADATA_SCHEMA}.destinations (name, kind, url_sealed, created_at) VALUES ($1, $2, $3, $4)`, [
        d.name,
        d.kind,
        this.secrets.encrypt(d.url),
        new Date().toISOString(),
      ]);
    } catch (err) {
      if (err.code === UNIQUE_VIOLATION) throw new ConflictError(say.destinationExists(d.name));
      throw err;
    }
    return this.getDestination(d.name);
  }

  async getDestination(name: string): Promise<DestinationRecord> {
    const { rows } = await this.pool.query<DestinationRow>(`SELECT * FROM ${METADATA_SCHEMA}.destinations WHERE name = $1`, [name]);
    if (!rows[0]) throw new NotFoundError(say.noDestination(name));
    return destinationFrom(rows[0], this.secrets);
  }

  async listDestinations(): Promise<DestinationRecord[]> {
    const { rows } = await this.pool.query<DestinationRow>(`SELECT * FROM ${METADATA_SCHEMA}.destinations ORDER BY name`);
    return rows.map((r) => destinationFrom(r, this.secrets));
  }

  async updateDestination(name: string, patch: Pick<DestinationRecord, "url">): Promise<DestinationRecord> {
    const { rowCount } = await this.pool.query(`UPDATE ${METADATA_SCHEMA}.destinations SET url_sealed = $2 WHERE name = $1`, [name, this.secrets.encrypt(patch.url)]);
    if (rowCount === 0) throw new NotFoundError(say.noDestination(name));
    return this.getDestination(name);
  }

  async removeDestination(name: string): Promise<void> {
    await this.transaction(async (client) => {
      // Locks the row first so no source can take it as its default between the check and the delete.
      const { rowCount } = await client.query(`SELECT 1 FROM ${METADATA_SCHEMA}.destinations WHERE name = $1 FOR UPDATE`, [name]);
      if (rowCount === 0) throw new NotFoundError(say.noDestination(name));
      const used = await client.query<{ name: string }>(`SELECT name FROM ${METADATA_SCHEMA}.sources WHERE destination = $1 ORDER BY name`, [name]);
      if (used.rows.length) throw new ConflictError(say.destinationInUse(name, used.rows.map((r) => r.name)));
      await client.query(`DELETE FROM ${METADATA_SCHEMA}.destinations WHERE name = $1`, [name]);
    });
  }

  // --- runs ---------------------------------------------------------------------------

  async startRun(run: Pick<RunRecord, "id" | "source" | "fullRefresh" | "destination"> & { entities?: string[]; trigger?: RunTrigger }): Promise<RunRecord> {
    await this.transaction((client) => insertRun(client, { ...run, entities: run.entities ?? [], executor: "process", trigger: run.trigger ?? "manual" }));
    return this.getRun(run.id);
  }

  updateRun(id: string, patch: { entities: EntityResult[]; addStats: RequestStats }): Promise<{ cancelRequested: boolean }> {
    return saveProgress(this.pool, id, patch.entities, patch.addStats);
  }

  async requestCancel(id: string): Promise<boolean> {
    await reapDeadRuns(this.pool);
    return this.transaction((client) => cancelRun(client, id));
  }

  async finishRun(id: string, patch: Pick<RunRecord, "status" | "error">): Promise<void> {
    await this.pool.query(`UPDATE ${METADATA_SCHEMA}.runs SET status = $1, error = $2, finished_at = now() WHERE id = $3 AND status = 'running'`, [
      patch.status,
      patch.error,
      id,
    ]);
  }

  async getRun(id: string): Promise<RunRecord> {
    await reapDeadRuns(this.pool);
    const { rows } = await this.pool.query<RunRow>(`SELECT * FROM ${METADATA_SCHEMA}.runs WHERE id = $1`, [id]);
    if (!rows[0]) throw new NotFoundError(say.noRun(id));
    return (await runsWithEntities(this.pool, rows))[0];
  }

  async listRuns(filter: { source?: string; limit?: number } = {}): Promise<RunRecord[]> {
    await reapDeadRuns(this.pool);
    const limit = filter.limit ?? 50;
    const { rows } = filter.source
      ? await this.pool.query<RunRow>(`SELECT * FROM ${METADATA_SCHEMA}.runs WHERE source = $1 ORDER BY started_at DESC, seq DESC LIMIT $2`, [
          filter.source,
          limit,
        ])
      : await this.pool.query<RunRow>(`SELECT * FROM ${METADATA_SCHEMA}.runs ORDER BY started_at DESC, seq DESC LIMIT $1`, [limit]);
    return runsWithEntities(this.pool, rows);
  }

  async appendLogs(lines: Omit<LogLine, "id">[]): Promise<void> {
    if (lines.length === 0) return;
    // One statement for the batch: unnest keeps it a fixed four parameters however many lines.
    await this.pool.query(
      `INSERT INTO ${METADATA_SCHEMA}.run_logs (run_id, at, level, entity, message)
       SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[])`,
      [lines.map((l) => l.runId), lines.map((l) => l.at), lines.map((l) => l.level), lines.map((l) => l.entity), lines.map((l) => l.message)],
    );
  }

  async runDestinations(source: string): Promise<Array<string | null>> {
    const { rows } = await this.pool.query<{ destination: string | null }>(`SELECT DISTINCT destination FROM ${METADATA_SCHEMA}.runs WHERE source = $1`, [source]);
    return rows.map((r) => r.destination);
  }

  async getLogs(runId: string, options: { afterId?: number; limit?: number } = {}): Promise<LogLine[]> {
    const { rows } = await this.pool.query<LogLine>(
      `SELECT id, run_id AS "runId", at, level, entity, message FROM ${METADATA_SCHEMA}.run_logs
       WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
      [runId, options.afterId ?? 0, options.limit ?? 1000],
    );
    return rows;
  }

  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  private transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, work);
  }
}

/** host:port/database of a connection URL, for messages (never the password). */
export function serverOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || "localhost"}:${u.port || 5432}${u.pathname && u.pathname !== "/" ? u.pathname : ""}`;
  } catch {
    return describePostgresUrl(url);
  }
}

/** pg's errors can be AggregateErrors (one per address tried) with an empty message. */
function oneLine(err: unknown): string {
  const e = err as Error & { errors?: Error[]; code?: string };
  const message = e.message || e.errors?.map((x) => x.message).join("; ") || e.code || String(err);
  return message.replace(/\s+/g, " ").trim();
}
