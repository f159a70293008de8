import { DELETED_AT, SYNCED_AT } from "../Destination";
import type { MergePlan } from "../mergePlan";
import { quote } from "./naming";

/**
 * DuckDB's merge of a staged chunk: INSERT … SELECT … ON CONFLICT DO UPDATE. The staging table
 * holds the deletion time as text; `_mako_synced_at` is the chunk's, parameter $1.
 */
export function mergeSql(table: string, staging: string, plan: MergePlan): string {
  const select = plan.columns.map((n) =>
    n === SYNCED_AT ? "CAST($1 AS TIMESTAMPTZ)" : n === DELETED_AT ? `CAST(${quote(n)} AS TIMESTAMPTZ)` : quote(n),
  );
  const updates = plan.updates.map((n) => `${quote(n)} = EXCLUDED.${quote(n)}`);
  return (
    `INSERT INTO ${table} (${plan.columns.map(quote).join(", ")}) SELECT ${select.join(", ")} FROM ${staging} ` +
    `ON CONFLICT (${plan.keys.map(quote).join(", ")}) DO UPDATE SET ${updates.join(", ")}`
  );
}
