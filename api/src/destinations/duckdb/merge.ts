import { DELETED_AT, SYNCED_AT, VERSION } from "../Destination";
import type { MergePlan } from "../mergePlan";
import { quote } from "./naming";

/**
 * DuckDB's merge of a staged chunk: INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE the version
 * guard (rowVersions.ts) lets the incoming row replace the stored one. The staging table holds
 * the deletion time as text; `_mako_synced_at` is the chunk's, parameter $1.
 */
export function mergeSql(table: string, staging: string, plan: MergePlan): string {
  const select = plan.columns.map((n) =>
    n === SYNCED_AT ? "CAST($1 AS TIMESTAMPTZ)" : n === DELETED_AT ? `CAST(${quote(n)} AS TIMESTAMPTZ)` : quote(n),
  );
  const updates = plan.updates.map((n) => `${quote(n)} = EXCLUDED.${quote(n)}`);
  const v = quote(VERSION);
  const guard = plan.versioned ? ` WHERE EXCLUDED.${v} IS NULL OR stored.${v} IS NULL OR EXCLUDED.${v} >= stored.${v}` : "";
  return (
    `INSERT INTO ${table} AS stored (${plan.columns.map(quote).join(", ")}) SELECT ${select.join(", ")} FROM ${staging} ` +
    `ON CONFLICT (${plan.keys.map(quote).join(", ")}) DO UPDATE SET ${updates.join(", ")}${guard}`
  );
}
