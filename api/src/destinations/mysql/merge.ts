import type { MergePlan } from "../mergePlan";
import { quote } from "./naming";

/** MySQL's upsert, INSERT … VALUES (…),(…) ON DUPLICATE KEY UPDATE, as the text around its tuples. */
export function upsertSql(table: string, plan: MergePlan): { head: string; tuple: string; tail: string } {
  const updates = plan.updates.map((n) => `${quote(n)} = VALUES(${quote(n)})`);
  return {
    head: `INSERT INTO ${quote(table)} (${plan.columns.map(quote).join(", ")}) VALUES `,
    tuple: `(${plan.columns.map(() => "?").join(",")})`,
    tail: ` ON DUPLICATE KEY UPDATE ${updates.join(", ")}`,
  };
}
