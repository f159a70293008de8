import type { DataRecord } from "../connectors/base/types";
import { parseCheckpoint } from "./checkpointCodec";
import type { ColumnType } from "./columnTypes";
import type { ChangeWrite, ChunkWrite, Destination, EntityCheckpoint, EntityCompletion, TableInfo, TableRef } from "./Destination";
import type { Dialect, Table, TableRole } from "./dialect";
import { ShadowPasses } from "./fullRefresh";
import { evolve, needsChange } from "./schemaChange";
import { isReservedEntityName } from "../connectors/base/reservedNames";
import { latestPerKey } from "./rowVersions";
import { checkFence, commitChunk, commitCompletion, raiseFence } from "./stateRow";
import { type MaybePromise, type Step, io, runAsync, runSync } from "./step";
import { checkTable } from "./tableCheck";
import { refuseReservedEntity } from "./tableNames";
import { TableCache, displayName } from "./tables";
import { observeTypes } from "./tableShape";
import { transaction } from "./transactions";

/** Attempts of a chunk whose transaction failed on a deadlock or a schema changed under it. */
const MAX_ATTEMPTS = 3;

/**
 * The write flow, once for every database: each chunk's rows and the entity's checkpoint in one
 * transaction, schema evolution, overflow, full refresh through a shadow table, deletions. The
 * database is a Dialect (dialect.ts); each kind's class extends this one with its `open`.
 */
export class DialectDestination<C, W> implements Destination {
  readonly kind: string;
  readonly writeConcurrency: number;
  private readonly tables: TableCache<C, W>;
  private readonly shadows: ShadowPasses<C, W>;
  private readonly run: <T>(step: Step<T>) => MaybePromise<T>;

  constructor(private readonly dialect: Dialect<C, W>) {
    this.kind = dialect.kind;
    this.writeConcurrency = dialect.writeConcurrency;
    this.run = dialect.driver.synchronous ? runSync : runAsync;
    this.tables = new TableCache(dialect);
    this.shadows = new ShadowPasses(dialect, this.tables, this.run);
  }

  // --- checkpoints ------------------------------------------------------------------------

  loadCheckpoint(ref: TableRef): Promise<EntityCheckpoint | null> {
    return this.dialect.driver.session(async (conn) => {
      const text = (await this.dialect.state.read(conn, ref))?.checkpoint;
      return text ? parseCheckpoint(text, ref) : null;
    });
  }

  raiseFence(ref: TableRef, fence: number): Promise<void> {
    const { driver, state } = this.dialect;
    return this.session((conn) => transaction(driver, conn, () => raiseFence(state, conn, ref, fence, new Date().toISOString())));
  }

  resetCheckpoint(ref: TableRef): Promise<void> {
    return this.dialect.driver.session((conn) => this.dialect.state.reset(conn, ref));
  }

  verifyTable(ref: TableRef): Promise<string | null> {
    return this.session((conn) => checkTable(this.dialect, this.tables, conn, ref));
  }

  // --- writing ----------------------------------------------------------------------------

  async writeChunk(write: ChunkWrite): Promise<void> {
    refuseReservedEntity(write.table);
    const role: TableRole = write.checkpoint.mode === "full_refresh" ? "shadow" : "live";
    return this.session((conn) =>
      this.writeRows(conn, write, role, role === "shadow" ? write.checkpoint : null, (table) => this.rowsAndCheckpoint(conn, table, write)),
    );
  }

  async completeEntity(completion: EntityCompletion): Promise<{ deleted: number }> {
    refuseReservedEntity(completion.table);
    const changes = completion.changes?.length ? latestPerKey(completion.changes, completion.primaryKey) : [];
    return this.session((conn) => this.complete(conn, completion, changes));
  }

  async applyChanges(write: ChangeWrite): Promise<{ applied: number; skipped: number }> {
    refuseReservedEntity(write.table);
    const records = latestPerKey(write.records, write.primaryKey);
    const { rows, state } = this.dialect;
    const applied = await this.session((conn) =>
      this.writeRows(conn, { ...write, records }, "live", null, function* (table) {
        let applied = 0;
        if (records.length > 0) {
          if (!table.writer) table.writer = yield* io(rows.prepare(conn, table, table.shape!));
          applied = yield* io(rows.write(conn, table, table.writer, records, write.syncedAt));
        }
        // After the rows, as a chunk's commit does (one lock order for both): a refused writer's rows roll back.
        if (write.fence !== undefined) yield* checkFence(state, conn, write.table, write.fence);
        return applied;
      }),
    );
    return { applied, skipped: write.records.length - applied };
  }

  /**
   * Rows into an entity's table (its shadow during a full refresh `pass`): the table made or
   * evolved for them, then `commit` in one transaction with the rows' schema changes where the
   * dialect allows. Redone whole when the database says it is worth it.
   */
  private *writeRows<T>(
    conn: C,
    target: { table: TableRef; primaryKey: string[]; records: DataRecord[] },
    role: TableRole,
    pass: EntityCheckpoint | null,
    commit: (table: Table<W>) => Step<T>,
  ): Step<T> {
    const { driver } = this.dialect;
    const inChunk = this.dialect.schemaChanges === "in-chunk";
    const observed = observeTypes(target.records, this.dialect.shape.typeOf);
    yield* this.shadows.recover(conn, target.table);
    for (let attempt = 1; ; attempt++) {
      try {
        const steps = () => this.writeSteps(conn, target, role, pass, observed, inChunk, commit);
        return yield* inChunk ? transaction(driver, conn, steps) : steps();
      } catch (err) {
        // Read the schema again: the rolled-back transaction took its changes along, or another
        // writer changed it under this one.
        this.tables.forget(target.table, role);
        if (inChunk) this.shadows.forgetPrepared();
        if (attempt >= MAX_ATTEMPTS || !driver.retryable(conn, err)) throw err;
      }
    }
  }

  /** Shadow, table, schema, then `commit` (rows and checkpoint or fence) in one transaction. */
  private *writeSteps<T>(
    conn: C,
    target: { table: TableRef; primaryKey: string[]; records: DataRecord[] },
    role: TableRole,
    pass: EntityCheckpoint | null,
    observed: Map<string, ColumnType | undefined>,
    inChunk: boolean,
    commit: (table: Table<W>) => Step<T>,
  ): Step<T> {
    if (pass) yield* this.shadows.prepare(conn, target.table, target.primaryKey, pass, inChunk);
    let table = yield* this.tables.get(conn, target.table, role, target.primaryKey);
    // An empty chunk still moves the checkpoint, but says nothing to build a table from.
    if (target.records.length > 0 && needsChange(this.dialect, table, observed)) {
      table = yield* evolve(this.dialect, this.tables, conn, table, observed, inChunk);
    }
    const evolved = table;
    return yield* inChunk ? commit(evolved) : transaction(this.dialect.driver, conn, () => commit(evolved));
  }

  private *rowsAndCheckpoint(conn: C, table: Table<W>, write: ChunkWrite): Step<void> {
    const { rows, state } = this.dialect;
    if (write.records.length > 0) {
      if (!table.writer) table.writer = yield* io(rows.prepare(conn, table, table.shape!));
      yield* io(rows.write(conn, table, table.writer, write.records, write.syncedAt));
    }
    yield* commitChunk(state, conn, write.table, write.checkpoint, write.syncedAt, write.fence);
  }

  /** `changes` (deduplicated): the pass's changes, applied under the guard after the rows it marks deleted. */
  private *complete(conn: C, c: EntityCompletion, changes: DataRecord[]): Step<{ deleted: number }> {
    const { driver, rows, state } = this.dialect;
    if (c.checkpoint.mode === "full_refresh") {
      const swapped = yield* this.shadows.swap(conn, c, changes);
      if (swapped) return swapped;
    }
    let table = yield* this.tables.get(conn, c.table, "live", c.primaryKey);
    const observed = observeTypes(changes, this.dialect.shape.typeOf);
    if (changes.length > 0 && needsChange(this.dialect, table, observed)) {
      table = yield* evolve(this.dialect, this.tables, conn, table, observed, false);
    }
    const live = table;
    return yield* transaction(driver, conn, function* () {
      let deleted = 0;
      if (c.markUnseenDeletedBefore && live.shape) {
        deleted = yield* io(rows.markUnseenDeleted(conn, live, c.markUnseenDeletedBefore, c.deletedAt));
      }
      if (changes.length > 0) {
        if (!live.writer) live.writer = yield* io(rows.prepare(conn, live, live.shape!));
        yield* io(rows.write(conn, live, live.writer, changes, c.deletedAt));
      }
      yield* commitCompletion(state, conn, c.table, c.checkpoint, c.deletedAt, c.fence);
      return { deleted };
    });
  }

  // --- reading ----------------------------------------------------------------------------

  listTables(namespace: string): Promise<TableInfo[]> {
    const { catalog, introspect, naming } = this.dialect;
    return this.dialect.driver.session(async (conn) => {
      const out: TableInfo[] = [];
      for (const { entity, name } of await catalog.list(conn, namespace)) {
        if (isReservedEntityName(entity)) continue; // a shadow, a table kept aside
        const physical = name ?? naming.table({ namespace, entity }, "live");
        const columns = await introspect.columns(conn, physical);
        const rows = await introspect.count(conn, physical);
        out.push({ entity, table: displayName(physical), rows, columns });
      }
      return out;
    });
  }

  readRows(ref: TableRef, options: { limit: number; offset: number }): Promise<DataRecord[]> {
    return this.dialect.driver.session(async (conn) => {
      const table = await this.run(this.tables.load(conn, ref, "live", ["id"]));
      return table.shape ? this.dialect.introspect.readRows(conn, table, options) : [];
    });
  }

  namespaceContents(namespace: string): Promise<{ tables: string[]; checkpoints: string[] }> {
    const { catalog, naming, state } = this.dialect;
    return this.dialect.driver.session(async (conn) => {
      const tables = (await catalog.list(conn, namespace)).map(({ entity, name }) => displayName(name ?? naming.table({ namespace, entity }, "live")));
      return { tables, checkpoints: await state.list(conn, namespace) };
    });
  }

  // --- administration ---------------------------------------------------------------------

  async dropNamespace(namespace: string): Promise<void> {
    await this.dialect.driver.session((conn) => this.dialect.ddl.dropNamespace(conn, namespace));
    this.tables.forgetNamespace(namespace);
  }

  test(): Promise<void> {
    return this.dialect.driver.session((conn) => this.dialect.driver.exec(conn, "SELECT 1"));
  }

  close(): Promise<void> {
    return this.dialect.driver.close();
  }

  private session<T>(work: (conn: C) => Step<T>): Promise<T> {
    return this.dialect.driver.session((conn) => this.run(work(conn)));
  }
}
