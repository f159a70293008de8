// The destination's tables are the truth. Before an entity's pass its table is compared with
// Mako's record of it: when the table is gone (dropped by hand, to force a reload) or lost a
// column Mako made, the record and the checkpoint — the incremental mark with it — describe a
// table that no longer is. They are forgotten, so the pass reloads the entity in full; a table
// that is there but misshapen is kept aside under a name of its own, never dropped.

import { DELETED_AT, SYNCED_AT, type TableRef, VERSION } from "./Destination";
import type { Dialect, Table } from "./dialect";
import { type Step, io } from "./step";
import { keptRef } from "./tableNames";
import { type TableCache, messageName } from "./tables";
import { OVERFLOW, type TableShape } from "./tableShape";
import { schemaSection } from "./transactions";

/** What was found and done, for the sync's warning; null when the table is as recorded. */
export function* checkTable<C, W>(dialect: Dialect<C, W>, tables: TableCache<C, W>, conn: C, ref: TableRef): Step<string | null> {
  const { driver, swap } = dialect;
  try {
    return yield* schemaSection(driver, conn, ref.namespace, false, function* () {
      // A swap a crash interrupted (MySQL) would make the live table look misshapen: finish it first.
      if (!swap.transactional) yield* io(swap.finish(conn, ref));
      const live = yield* tables.load(conn, ref, "live", []);
      if (!live.shape) return null; // no table recorded: nothing to compare
      const columns = yield* io(dialect.introspect.columns(conn, live.name));
      const missing = missingColumns(live.shape, columns.map((c) => c.name), dialect.shape.caseInsensitive);
      if (columns.length > 0 && missing.length === 0) return null;
      return yield* forget(dialect, tables, conn, live, columns.length === 0 ? null : missing);
    });
  } finally {
    tables.forget(ref, "live");
    tables.forget(ref, "shadow");
  }
}

function* forget<C, W>(dialect: Dialect<C, W>, tables: TableCache<C, W>, conn: C, live: Table<W>, missing: string[] | null): Step<string> {
  const { catalog, ddl, naming, state } = dialect;
  const name = messageName(naming.quote, live.name);
  let found = `table ${name} is gone`;
  if (missing === null) {
    yield* io(catalog.forget(conn, live));
  } else {
    const stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
    const kept: Table<W> = { ...live, ref: keptRef(live.entity, stamp), name: naming.table(live.entity, "live", `kept_${stamp}`) };
    yield* io(ddl.rename(conn, live.name, kept.name));
    yield* io(catalog.move(conn, live, kept));
    found = `table ${name} lost ${missing.join(", ")} (kept as ${messageName(naming.quote, kept.name)})`;
  }
  // A full refresh's shadow was filled for the checkpoint now forgotten.
  const shadow = yield* tables.load(conn, live.entity, "shadow", []);
  if (shadow.shape) {
    yield* io(ddl.drop(conn, shadow.name));
    yield* io(catalog.forget(conn, shadow));
  }
  yield* io(state.reset(conn, live.entity));
  return found;
}

/** The columns Mako made (as its record says) that the table no longer has. */
function missingColumns(shape: TableShape, present: string[], caseInsensitive: boolean): string[] {
  const fold = (n: string) => (caseInsensitive ? n.toLowerCase() : n);
  const have = new Set(present.map(fold));
  const expected = [...shape.columns.map((c) => c.name), SYNCED_AT, DELETED_AT, ...(shape.overflow ? [OVERFLOW] : []), ...(shape.versioned ? [VERSION] : [])];
  return expected.filter((n) => !have.has(fold(n)));
}
