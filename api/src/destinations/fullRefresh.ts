// A full refresh writes into a shadow of the entity's table and swaps it in when the pass
// completes, so readers of the live table see the previous complete table until then.

import type { DataRecord } from "../connectors/base/types";
import { DELETED_AT, SYNCED_AT, type EntityCheckpoint, type EntityCompletion, type TableRef, VERSION } from "./Destination";
import type { Dialect, Table } from "./dialect";
import { evolveLocked } from "./schemaChange";
import { fillDeletionsSql, shadowBelongsToPass } from "./shadowTable";
import { readCheckpoint, commitCompletion } from "./stateRow";
import { type MaybePromise, type Step, io, isPromise } from "./step";
import { type TableCache, claimName, qualified } from "./tables";
import { OVERFLOW, observeTypes } from "./tableShape";
import { schemaSection, transaction } from "./transactions";

const passKey = (live: TableRef, pass: EntityCheckpoint) => `${live.namespace}\u0000${live.entity}\u0000${pass.passStartedAt}`;
const entityKey = (live: TableRef) => `${live.namespace}\u0000${live.entity}`;

export class ShadowPasses<C, W> {
  /** Full-refresh passes whose shadow is ready, prepared by this process (shared by concurrent chunks). */
  private readonly ready = new Map<string, MaybePromise<void>>();
  /** Entities whose possibly interrupted swap this process has finished (DDL outside transactions). */
  private readonly swapsChecked = new Set<string>();

  constructor(
    private readonly dialect: Dialect<C, W>,
    private readonly tables: TableCache<C, W>,
    private readonly run: <T>(step: Step<T>) => MaybePromise<T>,
  ) {}

  /** The chunk's transaction rolled back, and with it the shadows prepared inside it. */
  forgetPrepared(): void {
    this.ready.clear();
  }

  /**
   * At a pass's first chunk in this process: a shadow left by another pass is dropped, and the
   * shadow starts as an empty copy of the live table; a resumed pass keeps writing into its own.
   */
  *prepare(conn: C, live: TableRef, primaryKey: string[], pass: EntityCheckpoint, inChunk: boolean): Step<void> {
    const key = passKey(live, pass);
    let ready = this.ready.get(key);
    if (!this.ready.has(key)) {
      ready = this.run(this.makeShadow(conn, live, primaryKey, pass, inChunk));
      if (isPromise(ready)) ready.catch(() => this.ready.delete(key));
      this.ready.set(key, ready);
    }
    yield* io(ready);
  }

  private *makeShadow(conn: C, live: TableRef, primaryKey: string[], pass: EntityCheckpoint, inChunk: boolean): Step<void> {
    const join = inChunk && this.dialect.schemaChanges === "in-chunk";
    yield* schemaSection(this.dialect.driver, conn, live.namespace, join, () => this.makeShadowLocked(conn, live, primaryKey, pass));
  }

  private *makeShadowLocked(conn: C, live: TableRef, primaryKey: string[], pass: EntityCheckpoint): Step<void> {
    const { ddl, catalog, swap } = this.dialect;
    this.tables.forget(live, "shadow");
    if (!swap.transactional) yield* io(swap.finish(conn, live));
    if (yield* this.ofPass(conn, live, pass, false)) return;
    const shadow = yield* this.tables.load(conn, live, "shadow", primaryKey);
    yield* claimName(this.dialect, conn, shadow);
    yield* io(ddl.drop(conn, shadow.name));
    yield* io(catalog.forget(conn, shadow));
    const source = yield* this.tables.load(conn, live, "live", primaryKey);
    if (!source.shape) return; // no live table yet: the chunks create the shadow
    yield* io(ddl.createLike(conn, source, shadow));
    yield* io(catalog.save(conn, { ...shadow, primaryKey: source.primaryKey }, source.shape));
  }

  /**
   * Whether the shadow in the database belongs to this pass: the stored checkpoint is an
   * unfinished full refresh begun at the same time (a resumed pass), or, at completion, this
   * process prepared it for this very pass.
   */
  private *ofPass(conn: C, live: TableRef, pass: EntityCheckpoint, preparedHere: boolean): Step<boolean> {
    const shadow = yield* this.tables.load(conn, live, "shadow", []);
    if (!shadow.shape) return false;
    if (preparedHere && this.ready.has(passKey(live, pass))) return true;
    const stored = yield* io(this.dialect.state.read(conn, live));
    return shadowBelongsToPass(readCheckpoint(stored?.checkpoint, live), pass);
  }

  /** MySQL: finishes, once per entity and process, a swap a crash interrupted between its two steps. */
  *recover(conn: C, live: TableRef): Step<void> {
    const { driver, swap } = this.dialect;
    if (swap.transactional || this.swapsChecked.has(entityKey(live))) return;
    yield* schemaSection(driver, conn, live.namespace, false, function* () {
      yield* io(swap.finish(conn, live));
    });
    this.swapsChecked.add(entityKey(live));
  }

  /**
   * Completes a full refresh: the live rows the pass did not see are copied into the shadow
   * (kept, marked deleted), the changes received during the pass are applied under the version
   * guard, the shadow replaces the live table, the final checkpoint is saved. Null when the pass
   * has no shadow (it wrote no rows); a stale shadow is dropped then.
   */
  *swap(conn: C, c: EntityCompletion, changes: DataRecord[]): Step<{ deleted: number } | null> {
    try {
      return yield* schemaSection(this.dialect.driver, conn, c.table.namespace, false, () => this.swapLocked(conn, c, changes));
    } finally {
      this.tables.forget(c.table, "live");
      this.tables.forget(c.table, "shadow");
    }
  }

  private *swapLocked(conn: C, c: EntityCompletion, changes: DataRecord[]): Step<{ deleted: number } | null> {
    const { driver, ddl, catalog, swap, rows, state } = this.dialect;
    if (!swap.transactional) yield* io(swap.finish(conn, c.table));
    if (!(yield* this.ofPass(conn, c.table, c.checkpoint, true))) {
      // A shadow left by an abandoned pass must not outlive this one.
      const stale = yield* this.tables.load(conn, c.table, "shadow", c.primaryKey);
      yield* claimName(this.dialect, conn, stale);
      yield* io(ddl.drop(conn, stale.name));
      yield* io(catalog.forget(conn, stale));
      return null;
    }
    const live = yield* this.tables.load(conn, c.table, "live", c.primaryKey);
    let shadow = yield* this.tables.load(conn, c.table, "shadow", c.primaryKey);
    // The changes may bring fields the pass never saw: the shadow gains their columns first
    // (this is the schema section; MySQL's DDL commits on its own, before the transaction below).
    if (changes.length > 0) shadow = yield* evolveLocked(this.dialect, this.tables, conn, shadow, observeTypes(changes, this.dialect.shape.typeOf));
    const dialect = this.dialect;
    const target = shadow;
    const body = function* (): Step<{ deleted: number }> {
      if (live.shape) for (const sql of copyUnseenSql(dialect, live, target)) yield* io(driver.exec(conn, sql));
      // Marking keeps each row's `_mako_version`: a change received during the pass with a later version still wins below.
      const deleted = c.markUnseenDeletedBefore ? yield* io(rows.markUnseenDeleted(conn, target, c.markUnseenDeletedBefore, c.deletedAt)) : 0;
      // The changes go into the shadow just before it becomes the live table, in this same
      // transaction on every database (MySQL's too: only its rename follows the commit), so no
      // reader of the live table ever sees the refreshed rows without them.
      if (changes.length > 0) yield* io(rows.write(conn, target, yield* io(rows.prepare(conn, target, target.shape!)), changes, c.deletedAt));
      if (swap.transactional) yield* io(swap.replace(conn, live, target));
      yield* io(catalog.forget(conn, live));
      yield* io(catalog.move(conn, target, live));
      if (!swap.transactional) yield* io(swap.mark(conn, live, target));
      yield* commitCompletion(state, conn, c.table, c.checkpoint, c.deletedAt, c.fence);
      return { deleted };
    };
    // Where DDL is transactional the schema section is the transaction; MySQL's is only a lock.
    if (swap.transactional) return yield* body();
    const result = yield* transaction(driver, conn, body);
    yield* io(swap.finish(conn, c.table));
    return result;
  }
}

/**
 * SQL completing the shadow from the live table: the deletions written to it get the live row's
 * other values (fillDeletionsSql), and the live rows the pass did not see are copied in. The
 * shadow began with the live columns and only grew or widened since.
 */
function copyUnseenSql<C, W>(dialect: Dialect<C, W>, live: Table<W>, shadow: Table<W>): string[] {
  const { quote } = dialect.naming;
  const liveShape = live.shape!;
  const shadowShape = shadow.shape!;
  const shadowCols = new Map(shadowShape.columns.map((col) => [col.field, col]));
  const liveCols = new Map(liveShape.columns.map((col) => [col.field, col]));
  const pairs = liveShape.columns.map((col) => {
    const target = shadowCols.get(col.field)!;
    const value = `l.${quote(col.name)}`;
    return [quote(target.name), col.type === target.type ? value : dialect.ddl.widenValue(value, col.type, target.type)];
  });
  const keyColumns = new Set(shadow.primaryKey.map((k) => quote(shadowCols.get(k)!.name)));
  const fill = pairs.filter(([column]) => !keyColumns.has(column));
  pairs.push([quote(SYNCED_AT), `l.${quote(SYNCED_AT)}`], [quote(DELETED_AT), `l.${quote(DELETED_AT)}`]);
  // A live row keeps its version (NULL when the live table predates the column).
  if (liveShape.versioned && shadowShape.versioned) pairs.push([quote(VERSION), `l.${quote(VERSION)}`]);
  if (liveShape.overflow && shadowShape.overflow) {
    pairs.push([quote(OVERFLOW), `l.${quote(OVERFLOW)}`]);
    fill.push([quote(OVERFLOW), `l.${quote(OVERFLOW)}`]);
  }
  const match = shadow.primaryKey.map((k) => `s.${quote(shadowCols.get(k)!.name)} = l.${quote(liveCols.get(k)!.name)}`).join(" AND ");
  const s = qualified(quote, shadow.name);
  const l = qualified(quote, live.name);
  const statements: string[] = [];
  const filling = fillDeletionsSql(dialect.ddl.updateJoin, s, l, fill, match, quote(DELETED_AT));
  if (filling) statements.push(filling);
  statements.push(
    `INSERT INTO ${s} (${pairs.map((p) => p[0]).join(", ")})
     SELECT ${pairs.map((p) => p[1]).join(", ")} FROM ${l} AS l
     WHERE NOT EXISTS (SELECT 1 FROM ${s} AS s WHERE ${match})`,
  );
  return statements;
}
