/**
 * Reads a dotted path (`data.items`, `meta.pagination.next`, `results.0.id`) from a parsed
 * JSON body. An empty path is the value itself.
 */
export function readPath(value: unknown, path: string | undefined): unknown {
  if (path === undefined || path === "" || path === "$") return value;
  let current: unknown = value;
  for (const key of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}
