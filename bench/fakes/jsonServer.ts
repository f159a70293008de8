// A JSON Server (typicode/json-server 0.17) stand-in: the shape many home-made and prototype
// APIs have. It follows json-server's README (https://github.com/typicode/json-server#routes,
// v0.17) and nothing of Mako:
// - plural routes: GET /posts; nested: GET /users/1/posts (children whose `userId` is 1)
// - filter: GET /posts?title=x; operators: `field_gte`, `field_lte` (#operators)
// - paginate: `_page` and optionally `_limit`, 10 items by default; a `Link` header with
//   first, prev, next and last (#paginate)
// - slice: `_start`, `_end` or `_limit`, with an `X-Total-Count` header (#slice); json-server
//   sends it on `_page` requests too, and exposes both headers to browsers
// Anything else in the query is a filter on a field of that name, as json-server reads it.
import { startFakeServer, type FakeResponse, type FakeServer } from "./fakeServer";

export type JsonServerDb = Record<string, Record<string, unknown>[]>;

export interface JsonServerFake extends FakeServer {
  db: JsonServerDb;
}

const PAGE_DEFAULT = 10;
const RESERVED = new Set(["_page", "_limit", "_start", "_end", "_sort", "_order", "_embed", "_expand", "q"]);

export async function startJsonServerFake(db: JsonServerDb): Promise<JsonServerFake> {
  const fake = await startFakeServer(({ method, url }) => {
    if (method !== "GET") return { status: 404, body: {} };
    const parts = url.pathname.split("/").filter(Boolean);
    let rows: Record<string, unknown>[];
    if (parts.length === 1 && db[parts[0]]) rows = db[parts[0]];
    else if (parts.length === 3 && db[parts[0]] && db[parts[2]]) {
      // GET /users/1/posts: the posts whose `userId` (singular + foreign key suffix "Id") is 1.
      const key = `${parts[0].replace(/s$/, "")}Id`;
      rows = db[parts[2]].filter((r) => String(r[key]) === parts[1]);
    } else if (parts.length === 2 && db[parts[0]]) {
      const row = db[parts[0]].find((r) => String(r.id) === parts[1]);
      return row ? { status: 200, body: row } : { status: 404, body: {} };
    } else return { status: 404, body: {} };
    return list(rows, url);
  });
  return Object.assign(fake, { db });
}

function list(all: Record<string, unknown>[], url: URL): FakeResponse {
  const q = url.searchParams;
  let rows = all.filter((r) => matches(r, q));
  const headers: Record<string, string> = {};
  const page = q.get("_page");
  const limit = q.get("_limit");
  const start = q.get("_start");
  const end = q.get("_end");
  if (page !== null || limit !== null || end !== null) {
    headers["X-Total-Count"] = String(rows.length);
    headers["Access-Control-Expose-Headers"] = `X-Total-Count${page !== null ? ", Link" : ""}`;
  }
  if (page !== null) {
    const size = Math.max(1, Number(limit ?? PAGE_DEFAULT) || PAGE_DEFAULT);
    const current = Math.max(1, Number(page) || 1);
    const last = Math.max(1, Math.ceil(rows.length / size));
    headers.Link = pageLinks(url, current, last);
    rows = rows.slice((current - 1) * size, current * size);
  } else if (start !== null || end !== null || limit !== null) {
    const from = Number(start ?? 0) || 0;
    const to = end !== null ? Number(end) : limit !== null ? from + Number(limit) : undefined;
    rows = rows.slice(from, to);
  }
  return { status: 200, body: rows, headers };
}

/** `field=value` (repeatable), `field_gte=value`, `field_lte=value`; others are reserved words. */
function matches(row: Record<string, unknown>, q: URLSearchParams): boolean {
  for (const key of new Set(q.keys())) {
    if (RESERVED.has(key)) continue;
    const values = q.getAll(key);
    const op = /_(gte|lte)$/.exec(key)?.[1];
    const field = op ? key.slice(0, -op.length - 1) : key;
    const have = row[field];
    if (have === undefined) return false;
    if (op === "gte" && !(compare(have, values[0]) >= 0)) return false;
    if (op === "lte" && !(compare(have, values[0]) <= 0)) return false;
    if (!op && !values.includes(String(have))) return false;
  }
  return true;
}

function compare(have: unknown, wanted: string): number {
  if (typeof have === "number") return have - Number(wanted);
  const text = String(have);
  return text < wanted ? -1 : text > wanted ? 1 : 0;
}

function pageLinks(url: URL, current: number, last: number): string {
  const at = (page: number) => {
    const u = new URL(url);
    u.searchParams.set("_page", String(page));
    return `<${u}>`;
  };
  const links = [`${at(1)}; rel="first"`];
  if (current > 1) links.push(`${at(current - 1)}; rel="prev"`);
  if (current < last) links.push(`${at(current + 1)}; rel="next"`);
  links.push(`${at(last)}; rel="last"`);
  return links.join(", ");
}
