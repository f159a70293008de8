import { VERSION } from "../Destination";
import type { MergePlan } from "../mergePlan";
import { quote } from "./naming";

/**
 * MySQL's upsert, INSERT … VALUES (…),(…) ON DUPLICATE KEY UPDATE, as the text around its tuples.
 * The version guard (rowVersions.ts) is an IF() per column: MySQL has no WHERE there. Its
 * assignments run in order, each seeing the ones before, so `_mako_version` is assigned last
 * (mergePlan.ts): every guard reads the stored version, its own included.
 */
export function upsertSql(table: string, plan: MergePlan): { head: string; tuple: string; tail: string } {
  const v = quote(VERSION);
  const guard = `VALUES(${v}) IS NULL OR ${v} IS NULL OR VALUES(${v}) >= ${v}`;
  const updates = plan.updates.map((n) => (plan.versioned ? `${quote(n)} = IF(${guard}, VALUES(${quote(n)}), ${quote(n)})` : `${quote(n)} = VALUES(${quote(n)})`));
  return {
    head: `INSERT INTO ${quote(table)} (${plan.columns.map(quote).join(", ")}) VALUES `,
    tuple: `(${plan.columns.map(() => "?").join(",")})`,
    tail: ` ON DUPLICATE KEY UPDATE ${updates.join(", ")}`,
  };
}
