import { DELETED_AT } from "../Destination";
import type { MergePlan } from "../mergePlan";
import { quote } from "./naming";

/**
 * SQLite's upsert of `rows` rows: INSERT … ON CONFLICT DO UPDATE. A deletion often carries only
 * its key: the fields it lacks keep their stored values.
 */
export function upsertSql(table: string, plan: MergePlan, rows: number): string {
  const deletion = `excluded.${quote(DELETED_AT)} IS NOT NULL`;
  const updates = plan.updates.map(
    (n) => `${quote(n)} = CASE WHEN ${deletion} THEN coalesce(excluded.${quote(n)}, ${quote(table)}.${quote(n)}) ELSE excluded.${quote(n)} END`,
  );
  const tuple = `(${plan.columns.map(() => "?").join(", ")})`;
  return `INSERT INTO ${quote(table)} (${plan.columns.map(quote).join(", ")}) VALUES ${Array(rows).fill(tuple).join(", ")}
         ON CONFLICT (${plan.keys.map(quote).join(", ")}) DO UPDATE SET ${updates.join(", ")}`;
}
