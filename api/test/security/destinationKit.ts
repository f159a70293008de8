// The four destinations on their real databases, with what a person does to them by hand (SQL
// on the warehouse), and a source that sends exactly the records a test gives it: for the
// findings about what a source sends and what a warehouse's owner does between syncs.
import Database from "better-sqlite3";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import pg from "pg";
import { BaseConnector } from "../../src/connectors/base/BaseConnector";
import type { DataRecord, EntityDeclaration, FetchState, ResumableFetchOptions } from "../../src/connectors/base/types";
import type { Destination } from "../../src/destinations/Destination";
import { DuckdbDestination } from "../../src/destinations/duckdb/DuckdbDestination";
import type { DestinationKind } from "../../src/destinations/factory";
import { MysqlDestination } from "../../src/destinations/mysql/MysqlDestination";
import { PostgresDestination } from "../../src/destinations/postgres/PostgresDestination";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import type { SyncEvent } from "../../src/sync/events";
import { SyncEngine } from "../../src/sync/SyncEngine";

export const PG_URL = process.env.MAKO_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const MYSQL_URL = process.env.MAKO_TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";
export const KINDS: DestinationKind[] = ["sqlite", "postgres", "mysql", "duckdb"];

const dir = mkdtempSync(join(tmpdir(), "mako-destkit-"));
let files = 0;

/** A destination on its real database, and the hand of its owner: plain SQL beside Mako. */
export interface Warehouse {
  kind: DestinationKind;
  destination: Destination & { dropNamespace(namespace: string): Promise<void> };
  /** The table's name as SQL writes it (quoted, qualified). */
  table(namespace: string, entity: string): string;
  /** Runs SQL on the warehouse as its owner would (a connection of its own where that is possible). */
  sql(statement: string): Promise<void>;
  close(): Promise<void>;
}

const dq = (s: string) => `"${s.replaceAll('"', '""')}"`;

export async function openWarehouse(kind: DestinationKind): Promise<Warehouse> {
  switch (kind) {
    case "sqlite": {
      const path = join(dir, `w${++files}.db`);
      const destination = SqliteDestination.open(path);
      return {
        kind,
        destination,
        table: (ns, entity) => dq(`${ns}__${entity}`),
        sql: async (s) => void destination.db.exec(s),
        close: () => destination.close(),
      };
    }
    case "duckdb": {
      const path = join(dir, `w${++files}.duckdb`);
      const destination = await DuckdbDestination.open(path);
      return {
        kind,
        destination,
        table: (ns, entity) => `${dq(ns)}.${dq(entity)}`,
        // One process per file: the owner's SQL goes through the destination's own connection.
        sql: async (s) => void (await destination.connection.run(s)),
        close: () => destination.close(),
      };
    }
    case "postgres": {
      const destination = await PostgresDestination.open(PG_URL);
      const owner = new pg.Client(PG_URL);
      await owner.connect();
      return {
        kind,
        destination,
        table: (ns, entity) => `${dq(ns)}.${dq(entity)}`,
        sql: async (s) => void (await owner.query(s)),
        close: async () => {
          await owner.end();
          await destination.close();
        },
      };
    }
    case "mysql": {
      const destination = await MysqlDestination.open(MYSQL_URL);
      const owner = await mysql.createConnection(MYSQL_URL);
      return {
        kind,
        destination,
        table: (ns, entity) => `\`${`${ns}__${entity}`.replaceAll("`", "``")}\``,
        sql: async (s) => void (await owner.query(s)),
        close: async () => {
          await owner.end();
          await destination.close();
        },
      };
    }
  }
}

/** A namespace no other test run uses (source names: lowercase, no `__`). */
export function uniqueNamespace(label: string): string {
  return `${label}_${process.pid}_${Date.now().toString(36)}_${++files}`.toLowerCase();
}

/** A source that sends, per entity, the records the test gives it (paged by offset, resumable). */
export class RecordsSource extends BaseConnector {
  constructor(
    readonly entities: Record<string, DataRecord[] | (() => DataRecord[])>,
    readonly declarations: Record<string, EntityDeclaration> = {},
  ) {
    super({ name: "records", config: {}, settings: {} });
  }

  getMetadata() {
    return { name: "Records", version: "1.0.0", description: "records given by the test", supportedEntities: Object.keys(this.entities) };
  }

  getEntityDeclarations() {
    return Object.fromEntries(Object.keys(this.entities).map((name) => [name, this.declarations[name] ?? {}]));
  }

  async testConnection() {
    return { success: true, message: "ok" };
  }

  supportsResumableFetching() {
    return true;
  }

  async fetchEntityChunk(o: ResumableFetchOptions): Promise<FetchState> {
    const given = this.entities[o.entity];
    const records = typeof given === "function" ? given() : given;
    let offset = o.state?.offset ?? 0;
    for (let i = 0; i < o.maxIterations && offset < records.length; i++) {
      const page = records.slice(offset, offset + o.batchSize);
      await o.onBatch(page);
      offset += page.length;
    }
    return { offset, hasMore: offset < records.length };
  }
}

let runs = 0;

/** Syncs the source into the warehouse through the engine; the log lines and each entity's result. */
export async function syncInto(w: Warehouse, namespace: string, source: BaseConnector, options: { fullRefresh?: boolean; batchSize?: number; maxIterations?: number } = {}) {
  const logs: string[] = [];
  const result = await new SyncEngine().run({
    runId: `kit_${++runs}`,
    namespace,
    connector: source,
    destination: w.destination,
    settings: { batchSize: options.batchSize ?? 1000, maxIterations: options.maxIterations ?? 10 },
    fullRefresh: options.fullRefresh,
    onEvent: (e: SyncEvent) => {
      if (e.type === "log") logs.push(`${e.level}: ${e.message}`);
    },
  });
  return { result, logs, entity: (name: string) => result.entities.find((e) => e.entity === name)! };
}

/** Every row of an entity, by key order, without `_mako_synced_at`. */
export async function rowsOf(w: Warehouse, namespace: string, entity: string): Promise<DataRecord[]> {
  const rows = await w.destination.readRows({ namespace, entity }, { limit: 100_000, offset: 0 });
  return rows.map(({ _mako_synced_at, ...rest }) => rest);
}

/** Whether a SQLite file has a table of that name (for tests reading the file directly). */
export function sqliteTables(db: Database.Database): string[] {
  return (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).pluck().all() as string[]);
}
