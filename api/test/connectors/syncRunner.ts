// Runs real syncs of a connector into an in-memory SQLite destination through the engine,
// for the SaaS connector tests (Stripe, Close, PostHog).
import type { DataRecord, DataSourceSettings } from "../../src/connectors/base/types";
import type { SourceConnector } from "../../src/connectors/registry";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import type { RunResult, SyncEvent } from "../../src/sync/events";
import { SyncEngine } from "../../src/sync/SyncEngine";

export const NAMESPACE = "src";

export interface SyncOutcome {
  result: RunResult;
  logs: string[];
}

let runs = 0;

export class SyncRunner {
  readonly destination = SqliteDestination.open(":memory:");

  constructor(
    private readonly connector: SourceConnector,
    public config: Record<string, unknown>,
    private readonly settings: DataSourceSettings = {},
  ) {}

  async sync(options: { entities?: string[]; fullRefresh?: boolean; onEvent?: (e: SyncEvent) => void } = {}): Promise<SyncOutcome> {
    const logs: string[] = [];
    const result = await new SyncEngine().run({
      runId: `test_${++runs}`,
      namespace: NAMESPACE,
      // A fresh connector per run, as a new process would build it.
      connector: new this.connector({ name: NAMESPACE, config: this.config, settings: this.settings }),
      destination: this.destination,
      settings: this.settings,
      entities: options.entities,
      fullRefresh: options.fullRefresh,
      onEvent: (e) => {
        if (e.type === "log") logs.push(`${e.level}: ${e.entity ?? ""}: ${e.message}`);
        options.onEvent?.(e);
      },
    });
    return { result, logs };
  }

  async rows(entity: string): Promise<DataRecord[]> {
    return this.destination.readRows({ namespace: NAMESPACE, entity }, { limit: 100_000, offset: 0 });
  }

  /** Rows not marked deleted, keyed by `key`. */
  async live(entity: string, key = "id"): Promise<Map<string, DataRecord>> {
    return new Map((await this.rows(entity)).filter((r) => r._mako_deleted_at == null).map((r) => [String(r[key]), r]));
  }

  async deletedKeys(entity: string, key = "id"): Promise<string[]> {
    return (await this.rows(entity)).filter((r) => r._mako_deleted_at != null).map((r) => String(r[key])).sort();
  }

  checkpoint(entity: string) {
    return this.destination.loadCheckpoint({ namespace: NAMESPACE, entity });
  }

  close() {
    return this.destination.close();
  }
}

/** One line per failed entity, for assertion messages. */
export function failures(result: RunResult): string {
  return result.entities.filter((e) => e.status !== "succeeded").map((e) => `${e.entity}: ${e.error}`).join("\n");
}

/** A value as the SQLite destination stores it: objects and arrays as JSON text, booleans as 0/1. */
export function stored(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "object") return JSON.stringify(value);
  return value;
}
