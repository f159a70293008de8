// Entity names a config declares (REST, GraphQL, BigQuery): each names a table, so two that a
// database would take for one table, or one that Mako keeps for its own tables, are refused here
// rather than colliding at the first sync (docs/destinations.md, "Table names").
import type { z } from "zod";
import { isReservedEntityName } from "../reservedNames";
import { requiredText } from "./configIssues";

/** Longest entity name: Mako's metadata keys it, with room for a shadow's suffix, in 255 characters. */
export const MAX_ENTITY_NAME = 200;


/** An entity's name: letters, digits and _, not one of Mako's own names. */
export function entityName() {
  return requiredText()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be letters, digits and _ (it names a table)")
    .max(MAX_ENTITY_NAME, `must be at most ${MAX_ENTITY_NAME} characters`)
    .refine((name) => !isReservedEntityName(name), "is reserved: names starting with _mako or containing __mako_ are Mako's own tables");
}

/**
 * Refuses two entities whose names differ only in case: SQLite, MySQL and DuckDB fold the case
 * of table names, so `Users` and `users` would be one table.
 */
export function refuseSameNames(entities: Array<{ name: string }>, ctx: z.RefinementCtx): void {
  const seen = new Map<string, number>();
  entities.forEach((entity, i) => {
    const key = entity.name.toLowerCase();
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, i);
      return;
    }
    const other = entities[first].name;
    const message = other === entity.name ? `"${entity.name}" is already used by entities[${first}]` : `"${entity.name}" and "${other}" (entities[${first}]) name one table: they differ only in case`;
    ctx.addIssue({ code: "custom", path: ["entities", i, "name"], message });
  });
}
