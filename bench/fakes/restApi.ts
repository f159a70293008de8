// A generic JSON REST API on Hono, for the declarative REST connector: one route family per
// pagination style real APIs use (page number, offset/limit, body cursor, next URL in the
// body, RFC 8288 Link header, no pagination), every auth scheme (bearer, basic, API key in a
// header or the query, OAuth2 client credentials with short-lived tokens), sub-resources
// (/users/{id}/posts) and an `updated_since` filter that accepts ISO, epoch seconds or a date.
import { serve } from "@hono/node-server";
import { Hono, type Context } from "hono";
import type { AddressInfo } from "node:net";

export interface FakeUser {
  id: number;
  name: string;
  email: string;
  updated_at: string;
}
export interface FakePost {
  id: number;
  user_id: number;
  title: string;
  updated_at: string;
}

/** One request as the server saw it, for tests to assert on. */
export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization?: string;
  status: number;
}

export interface RestApiOptions {
  users?: number;
  postsPerUser?: number;
  /** Bearer token of the `/v1` ("public-style") routes and `/secure/bearer`. */
  token?: string;
  basic?: { username: string; password: string };
  apiKey?: string;
  oauth?: { clientId: string; clientSecret: string; tokenTtlSeconds: number };
  /** Largest page a route serves, whatever the client asks for. */
  maxPageSize?: number;
}

export interface RestApi {
  url: string;
  requests: LoggedRequest[];
  users: FakeUser[];
  posts: FakePost[];
  /** Access tokens issued by /oauth/token so far. */
  tokensIssued: number;
  /** Invalidates every issued token now (a rotation): the next call gets 401. */
  revokeTokens(): void;
  /** Sets a user's (or post's) updated_at to a time after every other record. */
  touchUser(id: number): FakeUser;
  addPost(userId: number): FakePost;
  close(): Promise<void>;
}

const BASE = Date.UTC(2024, 0, 1);
const MINUTE = 60_000;

/** `updated_since` as ISO, epoch seconds or YYYY-MM-DD; undefined when absent. */
function parseSince(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new Error(`updated_since: cannot read "${value}"`);
  return t;
}

export async function startRestApi(options: RestApiOptions = {}): Promise<RestApi> {
  const token = options.token ?? "demo-token";
  const basic = options.basic ?? { username: "ada", password: "lovelace" };
  const apiKey = options.apiKey ?? "key-123";
  const oauth = options.oauth ?? { clientId: "mako", clientSecret: "s3cret", tokenTtlSeconds: 3600 };
  const maxPage = options.maxPageSize ?? 50;
  let clock = BASE;
  const tick = () => new Date((clock += MINUTE)).toISOString();

  const users: FakeUser[] = [];
  const posts: FakePost[] = [];
  for (let i = 1; i <= (options.users ?? 25); i++) {
    users.push({ id: i, name: `User ${i}`, email: `user${i}@example.com`, updated_at: tick() });
  }
  for (const u of users) for (let k = 1; k <= (options.postsPerUser ?? 3); k++) {
    posts.push({ id: u.id * 100 + k, user_id: u.id, title: `Post ${k} of ${u.id}`, updated_at: tick() });
  }

  const requests: LoggedRequest[] = [];
  const liveTokens = new Map<string, number>(); // token -> expiry (epoch ms)
  const state = { tokensIssued: 0 };

  const app = new Hono();
  app.use("*", async (c, next) => {
    await next();
    const url = new URL(c.req.url);
    requests.push({
      method: c.req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: c.req.header("authorization"),
      status: c.res.status,
    });
  });
  app.onError((err, c) => c.json({ error: err.message }, 400));

  const size = (c: Context, name: string, fallback = 10) => Math.min(maxPage, Math.max(1, Number(c.req.query(name) ?? fallback)));
  const filtered = <T extends { updated_at: string }>(c: Context, list: T[]) => {
    const since = parseSince(c.req.query("updated_since"));
    return since === undefined ? list : list.filter((r) => Date.parse(r.updated_at) >= since);
  };

  /** page_number: ?page=1&per_page=10 -> { data, meta: { page, total_pages, total } } */
  const pageList = <T extends { updated_at: string }>(c: Context, all: T[]) => {
    const list = filtered(c, all);
    const perPage = size(c, "per_page");
    const page = Math.max(1, Number(c.req.query("page") ?? 1));
    const data = list.slice((page - 1) * perPage, page * perPage);
    return c.json({ data, meta: { page, per_page: perPage, total: list.length, total_pages: Math.ceil(list.length / perPage) } });
  };

  app.get("/page/users", (c) => pageList(c, users));
  app.get("/v1/users", (c) => requireBearer(c) ?? pageList(c, users));
  app.get("/v1/users/:id/posts", (c) => requireBearer(c) ?? pageList(c, postsOf(c)));
  app.get("/users/:id/posts", (c) => pageList(c, postsOf(c)));

  function postsOf(c: Context): FakePost[] {
    const id = Number(c.req.param("id"));
    if (!users.some((u) => u.id === id)) throw new Error(`no user ${c.req.param("id")}`);
    return posts.filter((p) => p.user_id === id);
  }

  /** offset: ?offset=0&limit=10 -> { results, total } */
  app.get("/offset/users", (c) => {
    const list = filtered(c, users);
    const offset = Number(c.req.query("offset") ?? 0);
    return c.json({ results: list.slice(offset, offset + size(c, "limit")), total: list.length });
  });

  /** cursor: ?cursor=<opaque>&limit=10 -> { items, next_cursor, has_more } */
  app.get("/cursor/users", (c) => {
    const list = filtered(c, users);
    const cursor = c.req.query("cursor");
    const start = cursor ? Number(Buffer.from(cursor, "base64url").toString()) : 0;
    const items = list.slice(start, start + size(c, "limit"));
    const end = start + items.length;
    const hasMore = end < list.length;
    // Like Stripe, the last page still carries a cursor: only has_more says it is the last.
    return c.json({ items, has_more: hasMore, next_cursor: Buffer.from(String(end)).toString("base64url") });
  });

  /** next URL in the body (relative, as many APIs do): { data, links: { next } } */
  app.get("/next-url/users", (c) => {
    const list = filtered(c, users);
    const after = Number(c.req.query("after") ?? 0);
    const limit = size(c, "limit");
    const data = list.filter((u) => u.id > after).slice(0, limit);
    const last = data.at(-1);
    const more = last !== undefined && list.some((u) => u.id > last.id);
    const next = new URLSearchParams({ after: String(last?.id ?? after), limit: String(limit) });
    const since = c.req.query("updated_since");
    if (since) next.set("updated_since", since);
    return c.json({ data, links: { next: more ? `/next-url/users?${next}` : null } });
  });

  /** Link header, GitHub style: a bare array body, absolute rel="next"/"last" URLs. */
  app.get("/link/users", (c) => {
    const list = filtered(c, users);
    const perPage = size(c, "per_page", 30);
    const page = Math.max(1, Number(c.req.query("page") ?? 1));
    const lastPage = Math.max(1, Math.ceil(list.length / perPage));
    const self = new URL(c.req.url);
    const linkTo = (p: number) => {
      const u = new URL(self);
      u.searchParams.set("page", String(p));
      return u.toString();
    };
    const links = [];
    if (page < lastPage) links.push(`<${linkTo(page + 1)}>; rel="next"`);
    links.push(`<${linkTo(lastPage)}>; rel="last"`);
    c.header("Link", links.join(", "));
    return c.json(list.slice((page - 1) * perPage, page * perPage));
  });

  /** No pagination: the whole list as a bare array. */
  app.get("/all/users", (c) => c.json(filtered(c, users)));

  function requireBearer(c: Context): Response | undefined {
    return c.req.header("authorization") === `Bearer ${token}` ? undefined : c.json({ error: "invalid token" }, 401);
  }

  /** Each auth scheme guards the same page-numbered list. */
  app.get("/secure/:scheme/users", (c) => {
    const auth = c.req.header("authorization") ?? "";
    const scheme = c.req.param("scheme");
    let ok = false;
    if (scheme === "bearer") ok = auth === `Bearer ${token}`;
    else if (scheme === "basic") ok = auth === `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString("base64")}`;
    else if (scheme === "header-key") ok = c.req.header("x-api-key") === apiKey;
    else if (scheme === "query-key") ok = c.req.query("api_key") === apiKey;
    else if (scheme === "oauth") {
      const expiry = liveTokens.get(auth.replace(/^Bearer /, ""));
      ok = expiry !== undefined && Date.now() < expiry;
    }
    if (!ok) return c.json({ error: "unauthorized" }, 401);
    return pageList(c, users);
  });

  /** OAuth2 token endpoint, client credentials grant (RFC 6749 §4.4), client auth by Basic or body. */
  app.post("/oauth/token", async (c) => {
    const form = await c.req.parseBody();
    let id = typeof form.client_id === "string" ? form.client_id : undefined;
    let secret = typeof form.client_secret === "string" ? form.client_secret : undefined;
    const header = c.req.header("authorization");
    if (header?.startsWith("Basic ")) {
      const [u, p] = Buffer.from(header.slice(6), "base64").toString().split(":");
      id = decodeURIComponent(u);
      secret = decodeURIComponent(p ?? "");
    }
    if (form.grant_type !== "client_credentials") return c.json({ error: "unsupported_grant_type" }, 400);
    if (id !== oauth.clientId || secret !== oauth.clientSecret) return c.json({ error: "invalid_client" }, 401);
    state.tokensIssued++;
    const accessToken = `tok-${state.tokensIssued}-${Math.random().toString(36).slice(2)}`;
    liveTokens.set(accessToken, Date.now() + oauth.tokenTtlSeconds * 1000);
    return c.json({ access_token: accessToken, token_type: "Bearer", expires_in: oauth.tokenTtlSeconds });
  });

  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    users,
    posts,
    get tokensIssued() {
      return state.tokensIssued;
    },
    revokeTokens: () => liveTokens.clear(),
    touchUser(id) {
      const user = users.find((u) => u.id === id);
      if (!user) throw new Error(`no user ${id}`);
      user.updated_at = tick();
      return user;
    },
    addPost(userId) {
      const post = { id: userId * 100 + posts.filter((p) => p.user_id === userId).length + 1, user_id: userId, title: "New post", updated_at: tick() };
      posts.push(post);
      return post;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        if ("closeAllConnections" in server) server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
