import type { DataRecord, DataSourceSettings, EntityDescriptor } from "../connectors/base/types";
import type { SourceConnector } from "../connectors/registry";
import { SYNCED_AT, VERSION, type Destination } from "../destinations/Destination";
import { SqliteDestination } from "../destinations/sqlite/SqliteDestination";
import { SyncEngine } from "../sync/SyncEngine";
import type { RunResult } from "../sync/events";

export interface ConformanceOptions {
  connector: SourceConnector;
  config: Record<string, unknown>;
  /** A config with wrong credentials: testConnection must then fail. */
  badConfig?: Record<string, unknown>;
  entities?: string[];
  settings?: DataSourceSettings;
  /**
   * Changes the source between runs (creates, updates, deletes), for the incremental check.
   * It may return a new config (e.g. the sample source's larger `count`).
   */
  changeSource?: () => Promise<void | { config?: Record<string, unknown> }>;
  /** Where to sync; a fresh embedded SQLite database per sync by default. */
  destination?: () => Promise<Destination>;
  /** Upper bound on crash/resume cycles per entity; default 3 × its chunks in the reference + 10. */
  maxCrashRuns?: number;
}

export interface ConformanceCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ConformanceReport {
  ok: boolean;
  checks: ConformanceCheck[];
  /** `name: detail` of the first failed check. */
  firstFailure?: string;
}

type Snapshot = Map<string, Map<string, string>>;

/** Thrown by the kit's hooks to stop a sync the way a killed process would. */
class SimulatedCrash extends Error {
  readonly retryable = false;
}

const NAMESPACE = "conformance";

/**
 * The conformance kit: proves a connector is resumable, exactly-once and idempotent with
 * Mako's engine, by syncing it uninterrupted, then crashing before and after every chunk
 * commit and resuming, and comparing what landed. Call it from your connector's tests.
 */
export async function checkConnector(options: ConformanceOptions): Promise<ConformanceReport> {
  const checks: ConformanceCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    return ok;
  };
  const openDestination = options.destination ?? (async () => SqliteDestination.open(":memory:"));
  const settings = { maxRetries: 2, ...options.settings };
  let config = options.config;
  const connectorFor = (cfg: Record<string, unknown>) =>
    new options.connector({ name: NAMESPACE, config: cfg, settings });
  const entities = selectEntities(connectorFor(config).describeEntities(), options.entities);
  const engine = new SyncEngine();
  let runs = 0;
  const sync = (destination: Destination, extra: { fullRefresh?: boolean; only?: string; crash?: (entity: string, seq: number, when: "before" | "after") => void } = {}) =>
    engine.run({
      runId: `conformance_${++runs}`,
      namespace: NAMESPACE,
      connector: connectorFor(config),
      destination,
      settings,
      entities: extra.only ? [extra.only] : entities.map((e) => e.name),
      fullRefresh: extra.fullRefresh,
      hooks: extra.crash && {
        beforeCommit: (entity, seq) => extra.crash!(entity, seq, "before"),
        afterCommit: (entity, seq) => extra.crash!(entity, seq, "after"),
      },
    });

  try {
    // 1. Connection tests.
    const good = await safeTest(connectorFor(config));
    check("testConnection with good credentials", good.success, good.message);
    if (options.badConfig) {
      const bad = await safeTest(new options.connector({ name: NAMESPACE, config: options.badConfig, settings }));
      check("testConnection with bad credentials", !bad.success, bad.success ? "succeeded with the bad config" : bad.message);
    }

    // 2. Reference: one uninterrupted sync.
    const reference = await openDestination();
    const first = await sync(reference);
    if (!check("uninterrupted sync", first.status === "succeeded", summary(first))) return report(checks);
    const referenceRows = await snapshot(reference, entities);
    const chunks = first.entities.reduce((n, e) => n + e.chunks, 0);

    // 3. Crash before and after every chunk commit, resuming each time — entity by entity,
    // so that a crash in one entity does not starve the next.
    const crashed = await openDestination();
    let attempts = 0;
    let finished = true;
    let realFailure: string | undefined;
    for (const entity of entities) {
      const chunksOfEntity = first.entities.find((e) => e.entity === entity.name)?.chunks ?? 1;
      const limit = options.maxCrashRuns ?? chunksOfEntity * 3 + 10;
      let done = false;
      for (let run = 0; run < limit && !done && !realFailure; run++, attempts++) {
        // Even runs crash just before their first commit, odd runs just after it.
        const at = run % 2 === 0 ? "before" : "after";
        let dead = false;
        const result = await sync(crashed, {
          only: entity.name,
          crash: (name, seq, when) => {
            if (!dead && when !== at) return;
            dead = true;
            throw new SimulatedCrash(`simulated crash ${when} committing chunk ${seq} of ${name}`);
          },
        });
        done = result.status === "succeeded";
        realFailure = result.entities.find((e) => e.status === "failed" && !e.error?.startsWith("simulated crash"))?.error;
      }
      if (!done) {
        finished = false;
        break;
      }
    }
    const crashDetail = finished
      ? `finished after ${attempts} simulated crashes`
      : realFailure
        ? `a resumed run failed: ${realFailure}`
        : `not finished after ${attempts} crash/resume cycles: the connector does not resume from its state`;
    if (check("resume after crashes before and after each commit", finished, crashDetail)) {
      const diff = compare(referenceRows, await snapshot(crashed, entities));
      check("crash-resumed data equals the uninterrupted sync", diff === null, diff ?? "no loss, no duplicate keys, same values");
    }
    await crashed.close();

    // 4. Idempotency: the same sync again changes nothing but _mako_synced_at and _mako_version (the time of the read).
    const again = await sync(reference);
    const diffAgain = compare(referenceRows, await snapshot(reference, entities));
    check("second run is idempotent", again.status === "succeeded" && diffAgain === null, diffAgain ?? summary(again));
    const refresh = await sync(reference, { fullRefresh: true });
    const diffRefresh = compare(referenceRows, await snapshot(reference, entities));
    check("full refresh is idempotent", refresh.status === "succeeded" && diffRefresh === null, diffRefresh ?? summary(refresh));

    // 5. Incremental after the source changed: fewer records fetched, same data as a fresh sync.
    if (options.changeSource) {
      const changed = await options.changeSource();
      if (changed && changed.config) config = changed.config;
      const incremental = await sync(reference);
      const fetched = incremental.entities.reduce((n, e) => n + e.records, 0);
      const total = first.entities.reduce((n, e) => n + e.records, 0);
      const incrementalEntities = entities.filter((e) => e.incremental).length;
      check(
        "incremental run fetches fewer records",
        incremental.status === "succeeded" && (incrementalEntities === 0 || fetched < total),
        `${fetched} records fetched after the change, ${total} in the first sync (${summary(incremental)})`,
      );
      const fresh = await openDestination();
      const truth = await sync(fresh);
      const diff = truth.status === "succeeded" ? compare(await snapshot(fresh, entities), await snapshot(reference, entities, { liveOnly: true })) : summary(truth);
      check("incremental result equals the changed source", diff === null, diff ?? "live rows equal a fresh sync");
      await fresh.close();
    }
    await reference.close();
  } catch (err) {
    check("conformance kit", false, `unexpected error: ${err.message}`);
  }
  return report(checks);
}

function report(checks: ConformanceCheck[]): ConformanceReport {
  const failed = checks.find((c) => !c.ok);
  return { ok: !failed, checks, firstFailure: failed ? `${failed.name}: ${failed.detail}` : undefined };
}

function selectEntities(all: EntityDescriptor[], wanted?: string[]): EntityDescriptor[] {
  if (!wanted?.length) return all;
  return wanted.map((w) => {
    const e = all.find((d) => d.name === w);
    if (!e) throw new Error(`unknown entity "${w}"`);
    return e;
  });
}

async function safeTest(connector: { testConnection(): Promise<{ success: boolean; message: string }> }) {
  try {
    return await connector.testConnection();
  } catch (err) {
    return { success: false, message: `testConnection threw: ${err.message}` };
  }
}

function summary(r: RunResult): string {
  return r.entities.map((e) => `${e.entity}: ${e.status}, ${e.records} records${e.error ? ` (${e.error})` : ""}`).join("; ");
}

/** Every entity's rows keyed by primary key, values canonicalised, `_mako_synced_at` and `_mako_version` (when it was written, when it was read) left out. */
async function snapshot(destination: Destination, entities: EntityDescriptor[], options: { liveOnly?: boolean } = {}): Promise<Snapshot> {
  const out: Snapshot = new Map();
  for (const entity of entities) {
    const rows = new Map<string, string>();
    const ref = { namespace: NAMESPACE, entity: entity.name };
    for (let offset = 0; ; offset += 5000) {
      const page = await destination.readRows(ref, { limit: 5000, offset });
      for (const row of page) {
        if (options.liveOnly && row._mako_deleted_at != null) continue;
        const key = JSON.stringify(entity.primaryKey.map((k) => row[k]));
        if (rows.has(key)) throw new Error(`duplicate key ${key} in ${entity.name}`);
        rows.set(key, canonical(row));
      }
      if (page.length < 5000) break;
    }
    out.set(entity.name, rows);
  }
  return out;
}

function canonical(row: DataRecord): string {
  const keys = Object.keys(row).filter((k) => k !== SYNCED_AT && k !== VERSION).sort();
  return JSON.stringify(keys.map((k) => [k, row[k] instanceof Date ? (row[k] as Date).toISOString() : row[k]]), (_k, v) =>
    typeof v === "bigint" ? v.toString() : v,
  );
}

/** null when equal; otherwise what differs, with an example key. */
function compare(expected: Snapshot, actual: Snapshot): string | null {
  for (const [entity, rows] of expected) {
    const got = actual.get(entity) ?? new Map();
    const missing = [...rows.keys()].filter((k) => !got.has(k));
    if (missing.length) return `${entity}: ${missing.length} records lost (e.g. key ${missing[0]})`;
    const extra = [...got.keys()].filter((k) => !rows.has(k));
    if (extra.length) return `${entity}: ${extra.length} unexpected records (e.g. key ${extra[0]})`;
    for (const [key, value] of rows) {
      if (got.get(key) !== value) return `${entity}: record ${key} differs: expected ${value.slice(0, 200)}, got ${String(got.get(key)).slice(0, 200)}`;
    }
  }
  return null;
}
