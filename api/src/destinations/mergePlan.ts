import { DELETED_AT, SYNCED_AT } from "./Destination";
import type { Table } from "./dialect";
import { keyColumns } from "./tables";
import { OVERFLOW, type TableShape } from "./tableShape";

/**
 * What every dialect's upsert (its merge statement) does, decided once: the columns a row's
 * values fill, the key an incoming row is matched on, and what it replaces in a stored row.
 * Each dialect renders it in its own SQL (its `merge.ts`), and nowhere else.
 */
export interface MergePlan {
  /** Physical columns in the order a row's values come: data columns, `_mako_synced_at`, `_mako_deleted_at`, then `_mako_overflow` when on. */
  columns: string[];
  /** The primary key's columns: the conflict target. */
  keys: string[];
  /** The columns an incoming row replaces in the stored one: all but the key. */
  updates: string[];
}

export function mergePlan(table: Table, shape: TableShape): MergePlan {
  const columns = shape.columns.map((c) => c.name);
  columns.push(SYNCED_AT, DELETED_AT);
  if (shape.overflow) columns.push(OVERFLOW);
  const keys = keyColumns({ ...table, shape });
  const isKey = new Set(keys);
  return { columns, keys, updates: columns.filter((c) => !isKey.has(c)) };
}
