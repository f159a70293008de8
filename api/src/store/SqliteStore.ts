import Database from "better-sqlite3";
import { hostname } from "node:os";
import { emptyStats } from "../sync/events";
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
import type { ScheduleStore } from "./ScheduleStore";
import type { SecretBox } from "./SecretBox";
import { SqliteSchedules } from "./SqliteSchedules";
import { SqliteWebhookInbox } from "./SqliteWebhookInbox";
import type { WebhookInbox } from "./WebhookInbox";
import type { EntityResult, RequestStats } from "../sync/events";
import {
  type DestinationRow,
  type RunEntityRow,
  type RunRow,
  type SourceRow,
  addedStats,
  destinationFrom,
  entitiesJson,
  isAlive,
  notStarted,
  runFrom,
  sealConfig,
  sourceFrom,
  storeMessages as say,
} from "./storeRows";

/** Mako's metadata in the embedded SQLite file, next to the synced tables. */
export class SqliteStore implements MetadataStore {
  readonly inbox: WebhookInbox;
  readonly schedules: ScheduleStore;
  private readonly saveEntity: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly secrets: SecretBox,
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS mako_sources (
        name TEXT PRIMARY KEY, connector TEXT NOT NULL, config_sealed TEXT NOT NULL,
        settings_json TEXT NOT NULL DEFAULT '{}', destination TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS mako_destinations (
        name TEXT PRIMARY KEY, kind TEXT NOT NULL, url_sealed TEXT NOT NULL, created_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS mako_runs (
        id TEXT PRIMARY KEY, source TEXT NOT NULL, status TEXT NOT NULL, full_refresh INTEGER NOT NULL,
        destination TEXT, started_at TEXT NOT NULL, finished_at TEXT,
        entities_json TEXT NOT NULL DEFAULT '[]', stats_json TEXT NOT NULL DEFAULT '{}',
        error TEXT, pid INTEGER NOT NULL, host TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS mako_runs_source ON mako_runs (source, started_at);
      CREATE TABLE IF NOT EXISTS mako_run_logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, at TEXT NOT NULL, level TEXT NOT NULL,
        entity TEXT, message TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS mako_run_logs_run ON mako_run_logs (run_id, id);
    `);
    // Databases made before sources kept their entity selection lack the column.
    const columns = db.prepare(`SELECT name FROM pragma_table_info('mako_sources')`).pluck().all() as string[];
    if (!columns.includes("entities_json")) db.exec(`ALTER TABLE mako_sources ADD COLUMN entities_json TEXT`);
    this.inbox = new SqliteWebhookInbox(db);
    // Added after the first release: files made before it get the column here.
    const runColumns = db.prepare(`SELECT name FROM pragma_table_info('mako_runs')`).pluck().all() as string[];
    if (!runColumns.includes("cancel_requested")) db.exec(`ALTER TABLE mako_runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0`);
    if (!runColumns.includes("triggered_by")) db.exec(`ALTER TABLE mako_runs ADD COLUMN triggered_by TEXT NOT NULL DEFAULT 'manual'`);
    this.schedules = new SqliteSchedules(db);
    // A row per run entity; files from before keep each run's entities in mako_runs.entities_json,
    // moved here once (the column stays, emptied).
    db.exec(`
      CREATE TABLE IF NOT EXISTS mako_run_entities (
        run_id TEXT NOT NULL, entity TEXT NOT NULL, position INTEGER NOT NULL, status TEXT NOT NULL, result_json TEXT NOT NULL,
        PRIMARY KEY (run_id, entity));`);
    // Checked first: opening must not need the write lock another process may hold.
    if (db.prepare(`SELECT 1 FROM mako_runs WHERE entities_json <> '[]' LIMIT 1`).get()) {
      db.transaction(() => {
        db.exec(`
          INSERT OR IGNORE INTO mako_run_entities (run_id, entity, position, status, result_json)
            SELECT r.id, json_extract(e.value, '$.entity'), e.key, json_extract(e.value, '$.status'), e.value
            FROM mako_runs AS r, json_each(r.entities_json) AS e WHERE r.entities_json <> '[]';
          UPDATE mako_runs SET entities_json = '[]' WHERE entities_json <> '[]';`);
      }).immediate();
    }
    this.saveEntity = db.prepare(`
      INSERT INTO mako_run_entities (run_id, entity, position, status, result_json)
        VALUES (?, ?, (SELECT count(*) FROM mako_run_entities WHERE run_id = ?), ?, ?)
      ON CONFLICT (run_id, entity) DO UPDATE SET status = excluded.status, result_json = excluded.result_json`);
  }


  // --- sources ------------------------------------------------------------------------

  async addSource(source: NewSource): Promise<SourceRecord> {
    const now = new Date().toISOString();
    try {
      this.db
        .prepare(
          `INSERT INTO mako_sources (name, connector, config_sealed, settings_json, destination, entities_json, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          source.name,
          source.connector,
          sealConfig(this.secrets, source.config),
          JSON.stringify(source.settings),
          source.destination,
          entitiesJson(source.entities),
          now,
          now,
        );
    } catch (err) {
      if (String(err.code).startsWith("SQLITE_CONSTRAINT")) throw new ConflictError(say.sourceExists(source.name));
      throw err;
    }
    return this.getSource(source.name);
  }

  async getSource(name: string): Promise<SourceRecord> {
    const row = this.db.prepare(`SELECT * FROM mako_sources WHERE name = ?`).get(name) as SourceRow | undefined;
    if (!row) throw new NotFoundError(say.noSource(name));
    return sourceFrom(row, this.secrets);
  }

  async listSources(): Promise<SourceRecord[]> {
    const rows = this.db.prepare(`SELECT * FROM mako_sources ORDER BY name`).all() as SourceRow[];
    return rows.map((r) => sourceFrom(r, this.secrets));
  }

  async listSourceNames(): Promise<string[]> {
    return this.db.prepare(`SELECT name FROM mako_sources ORDER BY name`).pluck().all() as string[];
  }

  async updateSource(name: string, patch: Partial<Pick<SourceRecord, "config" | "settings" | "destination" | "entities">>): Promise<SourceRecord> {
    const current = await this.getSource(name);
    const next = { ...current, ...patch };
    this.db
      .prepare(`UPDATE mako_sources SET config_sealed = ?, settings_json = ?, destination = ?, entities_json = ?, updated_at = ? WHERE name = ?`)
      .run(sealConfig(this.secrets, next.config), JSON.stringify(next.settings), next.destination, entitiesJson(next.entities), new Date().toISOString(), name);
    return this.getSource(name);
  }

  async removeSource(name: string): Promise<void> {
    this.db
      .transaction(() => {
        this.reapDeadRuns();
        const busy = this.db.prepare(`SELECT id FROM mako_runs WHERE source = ? AND status = 'running'`).pluck().get(name) as string | undefined;
        if (busy) throw new SourceBusyError(name, busy);
        const { changes } = this.db.prepare(`DELETE FROM mako_sources WHERE name = ?`).run(name);
        if (changes === 0) throw new NotFoundError(say.noSource(name));
      })
      .immediate();
  }

  // --- destinations -------------------------------------------------------------------

  async addDestination(d: Omit<DestinationRecord, "createdAt">): Promise<DestinationRecord> {
    try {
      this.db
        .prepare(`INSERT INTO mako_destinations (name, kind, url_sealed, created_at) VALUES (?, ?, ?, ?)`)
        .run(d.name, d.kind, this.secrets.encrypt(d.url), new Date().toISOString());
    } catch (err) {
      if (String(err.code).startsWith("SQLITE_CONSTRAINT")) throw new ConflictError(say.destinationExists(d.name));
      throw err;
    }
    return this.getDestination(d.name);
  }

  async getDestination(name: string): Promise<DestinationRecord> {
    const row = this.db.prepare(`SELECT * FROM mako_destinations WHERE name = ?`).get(name) as DestinationRow | undefined;
    if (!row) throw new NotFoundError(say.noDestination(name));
    return destinationFrom(row, this.secrets);
  }

  async listDestinations(): Promise<DestinationRecord[]> {
    const names = this.db.prepare(`SELECT name FROM mako_destinations ORDER BY name`).pluck().all() as string[];
    return Promise.all(names.map((n) => this.getDestination(n)));
  }

  async updateDestination(name: string, patch: Pick<DestinationRecord, "url">): Promise<DestinationRecord> {
    const { changes } = this.db.prepare(`UPDATE mako_destinations SET url_sealed = ? WHERE name = ?`).run(this.secrets.encrypt(patch.url), name);
    if (changes === 0) throw new NotFoundError(say.noDestination(name));
    return this.getDestination(name);
  }

  async removeDestination(name: string): Promise<void> {
    const used = this.db.prepare(`SELECT name FROM mako_sources WHERE destination = ?`).pluck().all(name) as string[];
    if (used.length) throw new ConflictError(say.destinationInUse(name, used));
    const { changes } = this.db.prepare(`DELETE FROM mako_destinations WHERE name = ?`).run(name);
    if (changes === 0) throw new NotFoundError(say.noDestination(name));
  }

  // --- runs ---------------------------------------------------------------------------

  async startRun(run: Pick<RunRecord, "id" | "source" | "fullRefresh" | "destination"> & { entities?: string[]; trigger?: RunTrigger }): Promise<RunRecord> {
    // IMMEDIATE: two processes starting a sync of one source cannot both see it free.
    this.db
      .transaction(() => {
        this.reapDeadRuns();
        const busy = this.db
          .prepare(`SELECT id FROM mako_runs WHERE source = ? AND status = 'running'`)
          .pluck()
          .get(run.source) as string | undefined;
        if (busy) throw new SourceBusyError(run.source, busy);
        this.db
          .prepare(
            `INSERT INTO mako_runs (id, source, status, full_refresh, destination, started_at, pid, host, stats_json, triggered_by)
             VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(run.id, run.source, run.fullRefresh ? 1 : 0, run.destination, new Date().toISOString(), process.pid, hostname(), JSON.stringify(emptyStats()), run.trigger ?? "manual");
        this.saveEntities(run.id, (run.entities ?? []).map((e) => notStarted(e, run.fullRefresh)));
      })
      .immediate();
    return this.getRun(run.id);
  }

  async updateRun(id: string, patch: { entities: EntityResult[]; addStats: RequestStats }): Promise<{ cancelRequested: boolean }> {
    // IMMEDIATE: it reads before it writes, and a deferred transaction whose read snapshot another
    // process's commit made stale fails its first write at once ("database is locked"), without
    // waiting out the busy timeout.
    return this.db.transaction(() => {
      const run = this.db.prepare(`SELECT status, cancel_requested, stats_json FROM mako_runs WHERE id = ?`).get(id) as
        | { status: string; cancel_requested: number; stats_json: string }
        | undefined;
      if (!run) return { cancelRequested: true };
      this.saveEntities(id, patch.entities);
      this.db.prepare(`UPDATE mako_runs SET stats_json = ? WHERE id = ?`).run(JSON.stringify(addedStats(run.stats_json, patch.addStats)), id);
      return { cancelRequested: run.cancel_requested === 1 || run.status !== "running" };
    }).immediate();
  }

  async requestCancel(id: string): Promise<boolean> {
    this.reapDeadRuns();
    const { changes } = this.db.prepare(`UPDATE mako_runs SET cancel_requested = 1 WHERE id = ? AND status = 'running'`).run(id);
    return changes > 0;
  }

  async finishRun(id: string, patch: Pick<RunRecord, "status" | "error">): Promise<void> {
    this.db
      .prepare(`UPDATE mako_runs SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status = 'running'`)
      .run(patch.status, patch.error, new Date().toISOString(), id);
  }

  async getRun(id: string): Promise<RunRecord> {
    this.reapDeadRuns();
    const row = this.db.prepare(`SELECT * FROM mako_runs WHERE id = ?`).get(id) as RunRow | undefined;
    if (!row) throw new NotFoundError(say.noRun(id));
    return runFrom(row, this.entityRows(id));
  }

  async listRuns(filter: { source?: string; limit?: number } = {}): Promise<RunRecord[]> {
    this.reapDeadRuns();
    const limit = filter.limit ?? 50;
    const rows = (
      filter.source
        ? this.db.prepare(`SELECT * FROM mako_runs WHERE source = ? ORDER BY started_at DESC, rowid DESC LIMIT ?`).all(filter.source, limit)
        : this.db.prepare(`SELECT * FROM mako_runs ORDER BY started_at DESC, rowid DESC LIMIT ?`).all(limit)
    ) as RunRow[];
    return rows.map((r) => runFrom(r, this.entityRows(r.id)));
  }

  async runDestinations(source: string): Promise<Array<string | null>> {
    return this.db.prepare(`SELECT DISTINCT destination FROM mako_runs WHERE source = ?`).pluck().all(source) as Array<string | null>;
  }

  async appendLogs(lines: Omit<LogLine, "id">[]): Promise<void> {
    const insert = this.db.prepare(`INSERT INTO mako_run_logs (run_id, at, level, entity, message) VALUES (?, ?, ?, ?, ?)`);
    this.db.transaction(() => {
      for (const l of lines) insert.run(l.runId, l.at, l.level, l.entity, l.message);
    })();
  }

  async getLogs(runId: string, options: { afterId?: number; limit?: number } = {}): Promise<LogLine[]> {
    const rows = this.db
      .prepare(
        `SELECT id, run_id AS runId, at, level, entity, message FROM mako_run_logs
         WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?`,
      )
      .all(runId, options.afterId ?? 0, options.limit ?? 1000);
    return rows as LogLine[];
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private entityRows(runId: string): RunEntityRow[] {
    return this.db.prepare(`SELECT * FROM mako_run_entities WHERE run_id = ? ORDER BY position`).all(runId) as RunEntityRow[];
  }

  private saveEntities(runId: string, entities: EntityResult[]): void {
    for (const e of entities) this.saveEntity.run(runId, e.entity, runId, e.status, JSON.stringify(e));
  }

  /** A run left "running" by a process that no longer exists on this host failed: say so. */
  private reapDeadRuns(): void {
    const host = hostname();
    const running = this.db.prepare(`SELECT id, pid FROM mako_runs WHERE status = 'running' AND host = ?`).all(host) as {
      id: string;
      pid: number;
    }[];
    for (const r of running) {
      if (r.pid === process.pid || isAlive(r.pid)) continue;
      this.db
        .prepare(`UPDATE mako_runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ? AND status = 'running'`)
        .run(say.processStopped(r.pid), new Date().toISOString(), r.id);
    }
  }
}
