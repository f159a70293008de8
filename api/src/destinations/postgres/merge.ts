import type { MergePlan } from "../mergePlan";
import { quote } from "./naming";

/** The ON CONFLICT clause of every upsert into a table, COPY-merged or multi-row. */
export function onConflict(plan: MergePlan): string {
  const updates = plan.updates.map((n) => `${quote(n)} = EXCLUDED.${quote(n)}`);
  return `ON CONFLICT (${plan.keys.map(quote).join(", ")}) ` + (updates.length > 0 ? `DO UPDATE SET ${updates.join(", ")}` : "DO NOTHING");
}
