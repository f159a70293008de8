import { DELETED_AT, VERSION } from "../Destination";
import type { MergePlan } from "../mergePlan";
import { quote } from "./naming";

/**
 * SQLite's upsert of `rows` rows: INSERT … ON CONFLICT DO UPDATE … WHERE the version guard
 * (rowVersions.ts) lets the incoming row replace the stored one. A deletion often carries only
 * its key: the fields it lacks keep their stored values.
 */
export function upsertSql(table: string, plan: MergePlan, rows: number): string {
  const stored = (n: string) => `${quote(table)}.${quote(n)}`;
  const deletion = `excluded.${quote(DELETED_AT)} IS NOT NULL`;
  const updates = plan.updates.map(
    (n) => `${quote(n)} = CASE WHEN ${deletion} THEN coalesce(excluded.${quote(n)}, ${stored(n)}) ELSE excluded.${quote(n)} END`,
  );
  const v = quote(VERSION);
  const guard = plan.versioned ? ` WHERE excluded.${v} IS NULL OR ${stored(VERSION)} IS NULL OR excluded.${v} >= ${stored(VERSION)}` : "";
  const tuple = `(${plan.columns.map(() => "?").join(", ")})`;
  return `INSERT INTO ${quote(table)} (${plan.columns.map(quote).join(", ")}) VALUES ${Array(rows).fill(tuple).join(", ")}
         ON CONFLICT (${plan.keys.map(quote).join(", ")}) DO UPDATE SET ${updates.join(", ")}${guard}`;
}
