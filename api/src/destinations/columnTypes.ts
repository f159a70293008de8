// Column types as Mako sees them, independent of any database: inferred from values, and
// widened (never narrowed) when a field's values change type.

export type ColumnType = "boolean" | "integer" | "real" | "text" | "json";

const RANK: Record<ColumnType, number> = { boolean: 0, integer: 1, real: 2, text: 3, json: 4 };

/** The type of one value; undefined for null/undefined (they say nothing about the column). */
export function typeOfValue(value: unknown): ColumnType | undefined {
  switch (typeof value) {
    case "string":
      return "text";
    case "number":
      return Number.isInteger(value) ? "integer" : "real";
    case "boolean":
      return "boolean";
    case "bigint":
      return "integer";
    case "object":
      return value === null ? undefined : value instanceof Date ? "text" : "json";
    default:
      return value === undefined ? undefined : "text";
  }
}

/** The narrowest type that holds both: boolean ⊂ integer ⊂ real ⊂ text ⊂ json. */
export function widen(a: ColumnType | undefined, b: ColumnType | undefined): ColumnType | undefined {
  if (a === undefined) return b;
  if (b === undefined || a === b) return a;
  return RANK[a] >= RANK[b] ? a : b;
}
