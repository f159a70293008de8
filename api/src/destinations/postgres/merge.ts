import { VERSION } from "../Destination";
import type { MergePlan } from "../mergePlan";
import { quote } from "./naming";

/** The target's alias in every upsert: the ON CONFLICT clause reads the stored row through it. */
export const STORED = "stored";

/**
 * The ON CONFLICT clause of every upsert into a table (`INSERT INTO … AS stored`), COPY-merged
 * or multi-row: the incoming row replaces the stored one where the version guard (rowVersions.ts) lets it.
 */
export function onConflict(plan: MergePlan): string {
  const updates = plan.updates.map((n) => `${quote(n)} = EXCLUDED.${quote(n)}`);
  if (updates.length === 0) return `ON CONFLICT (${plan.keys.map(quote).join(", ")}) DO NOTHING`;
  const v = quote(VERSION);
  const guard = plan.versioned ? ` WHERE EXCLUDED.${v} IS NULL OR ${STORED}.${v} IS NULL OR EXCLUDED.${v} >= ${STORED}.${v}` : "";
  return `ON CONFLICT (${plan.keys.map(quote).join(", ")}) DO UPDATE SET ${updates.join(", ")}${guard}`;
}
