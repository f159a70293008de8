import { readPath } from "../base/declarative/jsonPath";

/**
 * The records of a response body: at `path` when given (an object there is one record),
 * else the body itself when it is an array, else the body's only array-valued field.
 * Returns a reason instead when the body has no recognisable records.
 */
export function extractRecords(body: unknown, path: string | undefined): { records: Record<string, unknown>[] } | { problem: string } {
  let found: unknown;
  if (path !== undefined) {
    found = readPath(body, path);
    if (found === undefined || found === null) return { records: [] };
  } else if (Array.isArray(body)) {
    found = body;
  } else if (body !== null && typeof body === "object") {
    const arrays = Object.entries(body).filter(([, v]) => Array.isArray(v));
    if (arrays.length !== 1) {
      const keys = arrays.map(([k]) => k);
      return { problem: keys.length ? `several array fields (${keys.join(", ")}): set records_path` : "no array in the body: set records_path" };
    }
    found = arrays[0][1];
  } else {
    return { problem: `body is ${body === null ? "null" : typeof body}, not JSON records` };
  }
  const list = Array.isArray(found) ? found : [found];
  const records: Record<string, unknown>[] = [];
  for (const item of list) {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      return { problem: `records${path ? ` at "${path}"` : ""} are not objects (got ${JSON.stringify(item)?.slice(0, 40)})` };
    }
    records.push(item as Record<string, unknown>);
  }
  return { records };
}
