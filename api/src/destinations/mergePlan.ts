import { DELETED_AT, SYNCED_AT, VERSION } from "./Destination";
import type { Table } from "./dialect";
import { keyColumns } from "./tables";
import { OVERFLOW, type TableShape } from "./tableShape";

/**
 * What every dialect's upsert (its merge statement) does, decided once: the columns a row's
 * values fill, the key an incoming row is matched on, what it replaces in a stored row, and the
 * version guard (rowVersions.ts) deciding whether it replaces it at all. Each dialect renders it
 * in its own SQL (its `merge.ts`), and nowhere else.
 */
export interface MergePlan {
  /**
   * Physical columns in the order a row's values come: data columns, `_mako_synced_at`,
   * `_mako_deleted_at`, `_mako_overflow` when on, then `_mako_version` when the table has it.
   */
  columns: string[];
  /** The primary key's columns: the conflict target. */
  keys: string[];
  /**
   * The columns an incoming row replaces in the stored one: all but the key, `_mako_version`
   * last — MySQL evaluates its assignments in order, so every guard before it reads the stored version.
   */
  updates: string[];
  /** The table has `_mako_version`: the merge guards each replacement with it. */
  versioned: boolean;
}

export function mergePlan(table: Table, shape: TableShape): MergePlan {
  const columns = shape.columns.map((c) => c.name);
  columns.push(SYNCED_AT, DELETED_AT);
  if (shape.overflow) columns.push(OVERFLOW);
  if (shape.versioned) columns.push(VERSION);
  const keys = keyColumns({ ...table, shape });
  const isKey = new Set(keys);
  return { columns, keys, updates: columns.filter((c) => !isKey.has(c)), versioned: shape.versioned };
}
