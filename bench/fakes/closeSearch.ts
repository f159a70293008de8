// The Close fake's Advanced Filtering API, POST /api/v1/data/search/, as developer.close.com
// documents it (/api/resources/advanced-filtering, /api/resources/advanced-filtering/search,
// /api/overview/pagination):
// - `query`: a tree of `and` / `or` / `object_type` / `field_condition` queries, any of them with
//   `negate`; a field condition on a `regular_field` of the searched object type with a
//   `moment_range` (`on_or_after`, `after`, `before`, `on_or_before`, each a `fixed_utc` moment).
//   Other documented query and condition types are refused with a 400 naming them, so a client
//   relying on one fails here instead of getting a wrong answer.
// - `sort`: [{direction, field: {type: "regular_field", object_type, field_name}}].
// - `_limit` (at most 200) and `cursor` in the body: the answer's `cursor` continues after the last
//   result in the sort order (null once there is nothing more), so objects changed between two
//   pages are neither lost nor repeated because of the change.
// - `_fields` ({object_type: [field, …]}): without it a result is only its `id` and
//   `__object_type`, as in the documented example answer; `custom.FIELD_ID` names a custom field.
// - `results_limit` caps the results over all pages; `include_counts` adds `count.total`.
// Body keys it does not know are ignored.
import type { CloseObject } from "./close";

export const SEARCHABLE_TYPES = ["lead", "contact", "opportunity", "activity.call", "activity.email", "activity.note", "activity.meeting", "activity.sms"] as const;
const MAX_LIMIT = 200;

type Predicate = (objectType: string, obj: CloseObject) => boolean;
type Answer = { status: number; body: unknown };

class SearchError extends Error {}

/** Answers one search request over the live objects of each searchable type. */
export function searchObjects(body: unknown, objectsOf: (objectType: string) => CloseObject[]): Answer {
  try {
    return { status: 200, body: run(body, objectsOf) };
  } catch (err) {
    if (err instanceof SearchError) return { status: 400, body: { error: err.message, errors: [], "field-errors": {} } };
    throw err;
  }
}

function run(body: unknown, objectsOf: (objectType: string) => CloseObject[]) {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new SearchError("The request body must be a JSON object");
  const request = body as Record<string, unknown>;
  if (request.query === undefined) throw new SearchError("query: This field is required.");
  const matches = predicate(request.query, "query");
  const order = sortOrder(request.sort);
  const limit = integerIn(request._limit, "_limit", 1, MAX_LIMIT) ?? 100;
  const resultsLimit = integerIn(request.results_limit, "results_limit", 1, Number.MAX_SAFE_INTEGER);
  const fields = fieldsOf(request._fields);

  let all: { type: string; obj: CloseObject }[] = [];
  for (const type of SEARCHABLE_TYPES) for (const obj of objectsOf(type)) if (matches(type, obj)) all.push({ type, obj });
  all.sort((a, b) => order.compare(a, b));
  if (resultsLimit !== undefined) all = all.slice(0, resultsLimit);

  let start = 0;
  if (request.cursor !== undefined && request.cursor !== null) {
    const after = decodeCursor(request.cursor);
    start = all.findIndex((item) => order.compare(item, after) > 0);
    if (start < 0) start = all.length;
  }
  const page = all.slice(start, start + limit);
  const more = start + limit < all.length;
  return {
    data: page.map(({ type, obj }) => project(type, obj, fields[type])),
    cursor: more ? encodeCursor(order.key(page[page.length - 1])) : null,
    ...(request.include_counts === true ? { count: { total: all.length } } : {}),
  };
}

function predicate(node: unknown, where: string): Predicate {
  if (node === null || typeof node !== "object" || Array.isArray(node)) throw new SearchError(`${where}: expected a query object`);
  const q = node as Record<string, unknown>;
  const negate = q.negate === true;
  let p: Predicate;
  switch (q.type) {
    case "and":
    case "or": {
      if (!Array.isArray(q.queries)) throw new SearchError(`${where}.queries: expected a list of queries`);
      const parts = q.queries.map((sub, i) => predicate(sub, `${where}.queries[${i}]`));
      p = q.type === "and" ? (t, o) => parts.every((f) => f(t, o)) : (t, o) => parts.some((f) => f(t, o));
      break;
    }
    case "object_type": {
      const wanted = q.object_type;
      if (typeof wanted !== "string") throw new SearchError(`${where}.object_type: expected an object type`);
      p = (t) => t === wanted;
      break;
    }
    case "field_condition":
      p = fieldCondition(q, where);
      break;
    default:
      throw new SearchError(`${where}.type: ${JSON.stringify(q.type)} is not a query type this fake implements (and, or, object_type, field_condition)`);
  }
  return negate ? (t, o) => !p(t, o) : p;
}

function fieldCondition(q: Record<string, unknown>, where: string): Predicate {
  const field = regularField(q.field, `${where}.field`);
  const condition = q.condition as Record<string, unknown> | undefined;
  if (!condition || condition.type !== "moment_range") {
    throw new SearchError(`${where}.condition.type: ${JSON.stringify(condition?.type)} is not a condition this fake implements (moment_range)`);
  }
  const bounds: [string, (c: number) => boolean][] = [
    ["on_or_after", (c) => c >= 0],
    ["after", (c) => c > 0],
    ["before", (c) => c < 0],
    ["on_or_before", (c) => c <= 0],
  ];
  const tests: ((value: string) => boolean)[] = [];
  for (const [name, holds] of bounds) {
    const moment = condition[name];
    if (moment === undefined || moment === null) continue;
    const m = moment as Record<string, unknown>;
    if (m.type !== "fixed_utc") throw new SearchError(`${where}.condition.${name}.type: ${JSON.stringify(m.type)} is not a moment this fake implements (fixed_utc)`);
    if (typeof m.value !== "string" || Number.isNaN(Date.parse(m.value))) throw new SearchError(`${where}.condition.${name}.value: ${JSON.stringify(m.value)} is not a date`);
    const bound = m.value;
    tests.push((value) => holds(compareTimes(value, bound)));
  }
  return (t, o) => {
    if (t !== field.objectType) return false;
    const value = o[field.name];
    return typeof value === "string" && tests.every((test) => test(value));
  };
}

function regularField(raw: unknown, where: string): { objectType: string; name: string } {
  const f = raw as Record<string, unknown> | undefined;
  if (!f || f.type !== "regular_field") throw new SearchError(`${where}.type: ${JSON.stringify(f?.type)} is not a field this fake implements (regular_field)`);
  if (typeof f.object_type !== "string" || typeof f.field_name !== "string") throw new SearchError(`${where}: object_type and field_name are required`);
  return { objectType: f.object_type, name: f.field_name };
}

interface Order {
  compare(a: { type: string; obj: CloseObject } | CursorKey, b: { type: string; obj: CloseObject } | CursorKey): number;
  key(item: { type: string; obj: CloseObject }): CursorKey;
}
type CursorKey = { values: unknown[]; id: string };

function sortOrder(raw: unknown): Order {
  const specs = raw === undefined || raw === null ? [] : raw;
  if (!Array.isArray(specs)) throw new SearchError("sort: expected a list");
  const keys = specs.map((s, i) => {
    const spec = s as Record<string, unknown>;
    if (spec?.direction !== "asc" && spec?.direction !== "desc") throw new SearchError(`sort[${i}].direction: expected asc or desc`);
    return { field: regularField(spec.field, `sort[${i}].field`), desc: spec.direction === "desc" };
  });
  const asKey = (item: { type: string; obj: CloseObject } | CursorKey): CursorKey =>
    "values" in item ? item : { values: keys.map((k) => (item.type === k.field.objectType ? item.obj[k.field.name] ?? null : null)), id: item.obj.id };
  return {
    key: asKey,
    compare(a, b) {
      const ka = asKey(a);
      const kb = asKey(b);
      for (let i = 0; i < keys.length; i++) {
        const c = compareValues(ka.values[i], kb.values[i]);
        if (c !== 0) return keys[i].desc ? -c : c;
      }
      // Ties (and no sort at all) in id order, so a cursor always has one place.
      return ka.id < kb.id ? -1 : ka.id > kb.id ? 1 : 0;
    },
  };
}

function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  const sa = String(a);
  const sb = String(b);
  if (!Number.isNaN(Date.parse(sa)) && !Number.isNaN(Date.parse(sb))) return compareTimes(sa, sb);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function fieldsOf(raw: unknown): Record<string, string[] | undefined> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new SearchError("_fields: expected {object_type: [field, …]}");
  for (const [type, list] of Object.entries(raw)) {
    if (!Array.isArray(list) || list.some((f) => typeof f !== "string")) throw new SearchError(`_fields.${type}: expected a list of field names`);
  }
  return raw as Record<string, string[]>;
}

function project(type: string, obj: CloseObject, fields: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = { __object_type: type, id: obj.id };
  for (const f of fields ?? []) if (f in obj) out[f] = obj[f];
  return out;
}

function integerIn(raw: unknown, name: string, min: number, max: number): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < min || raw > max) throw new SearchError(`${name}: must be an integer between ${min} and ${max}`);
  return raw;
}

function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

function decodeCursor(raw: unknown): CursorKey {
  try {
    const key = JSON.parse(Buffer.from(String(raw), "base64url").toString("utf8")) as CursorKey;
    if (Array.isArray(key.values) && typeof key.id === "string") return key;
  } catch {
    // fall through
  }
  throw new SearchError("cursor: invalid cursor");
}

/** Orders Close timestamps (microseconds, explicit offset) and ISO ones as instants. */
export function compareTimes(a: string, b: string): number {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  // Same millisecond: the sub-millisecond digits decide.
  const ma = subMillis(a);
  const mb = subMillis(b);
  return ma < mb ? -1 : ma > mb ? 1 : 0;
}

function subMillis(t: string): number {
  const m = /\.\d{3}(\d{1,3})/.exec(t);
  return m ? Number(m[1].padEnd(3, "0")) : 0;
}
