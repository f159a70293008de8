// Depth limits for what Mako is given: configs and API bodies, and records from sources.
// Checks recurse at most `limit` levels, so a hostile value 100,000 levels deep costs no
// more than one at the limit, and never overflows the stack.

/** Deepest nesting of objects and arrays accepted in a source's config. */
export const MAX_CONFIG_DEPTH = 32;

/** Default of `settings.maxNestingDepth`: levels of objects and arrays allowed in one record field. */
export const DEFAULT_RECORD_DEPTH = 64;

/** Highest `settings.maxNestingDepth` accepted: deeper values overflow serializers' stacks. */
export const MAX_RECORD_DEPTH = 1000;

/**
 * True when `value` nests objects/arrays more than `limit` levels deep (`{}` and `[]` are one
 * level, a scalar none).
 */
export function deeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (limit <= 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (typeof v === "object" && v !== null && deeperThan(v, limit - 1)) return true;
    }
    return false;
  }
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === "object" && v !== null && deeperThan(v, limit - 1)) return true;
  }
  return false;
}

/** Where a value first goes past `limit` levels (`a.b[0].c…`), for the error message; the walk stops there. */
export function pathPastDepth(value: unknown, limit: number): string | undefined {
  const search = (v: unknown, left: number, path: string): string | undefined => {
    if (typeof v !== "object" || v === null) return undefined;
    if (left <= 0) return path;
    const entries: [string, unknown][] = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x]) : Object.entries(v).map(([k, x]) => [path ? `.${k}` : k, x]);
    for (const [step, child] of entries) {
      if (typeof child === "object" && child !== null && deeperThan(child, left - 1)) return search(child, left - 1, path + step);
    }
    return undefined;
  };
  return search(value, limit, "");
}
