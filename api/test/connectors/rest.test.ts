import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRestApi, type RestApi } from "../../../bench/fakes/restApi";
import { checkConnector } from "../../src/conformance";
import { formatSince } from "../../src/connectors/base/declarative/since";
import { Mako } from "../../src/Mako";
import type { DataSourceSettings } from "../../src/connectors/base/types";
import { validateConfig } from "../../src/connectors/base/validateConfig";
import { connectorRegistry } from "../../src/connectors/registry";
import { resolveLimiterConfig } from "../../src/connectors/base/http";
import { parseConnectorConfigText, RestConnector, restConfigSchema, validateRestConfig } from "../../src/connectors/rest";
import { nextLink, nextPosition, type PagePosition } from "../../src/connectors/rest/paginators";
import { docExample } from "./docExample";
import { drainEntity } from "./drainEntity";

// Fast limits: these tests are about pagination and auth, not about waiting.
const settings: DataSourceSettings = { requestsPerSecond: 1000, burst: 1000, maxRetries: 1, requestTimeoutMs: 5000 };

let api: RestApi;
beforeAll(async () => {
  api = await startRestApi({ users: 25, postsPerUser: 3, oauth: { clientId: "mako", clientSecret: "s3cret", tokenTtlSeconds: 2 } });
});
afterAll(() => api?.close());

function rest(config: Record<string, unknown>, name = "rest_test") {
  return new RestConnector({ name, connector: "rest", config: { base_url: api.url, ...config }, settings });
}

/** Requests the fake received since `mark` (an index into its log) for a path. */
function requestsTo(path: string, from: number) {
  return api.requests.slice(from).filter((r) => r.path === path);
}

const allIds = Array.from({ length: 25 }, (_, i) => i + 1);

describe("REST paginators against a Hono API", () => {
  const cases: { name: string; path: string; paginator: Record<string, unknown>; requests: number; records_path?: string }[] = [
    { name: "page number, stops at total_pages", path: "/page/users", paginator: { type: "page_number", size_param: "per_page", total_pages_path: "meta.total_pages" }, requests: 3 },
    { name: "page number, stops at total records", path: "/page/users", paginator: { type: "page_number", size_param: "per_page", total_path: "meta.total" }, requests: 3 },
    { name: "page number, stops on the empty page", path: "/page/users", paginator: { type: "page_number", size_param: "per_page" }, requests: 4, records_path: "data" },
    { name: "offset/limit, stops at total", path: "/offset/users", paginator: { type: "offset", total_path: "total" }, requests: 3 },
    { name: "cursor from the body, stops on has_more false", path: "/cursor/users", paginator: { type: "cursor", cursor_path: "next_cursor", size_param: "limit", has_more_path: "has_more" }, requests: 3 },
    { name: "cursor without has_more: stops on the empty page", path: "/cursor/users", paginator: { type: "cursor", cursor_path: "next_cursor", size_param: "limit" }, requests: 4 },
    { name: "next URL (relative) from the body", path: "/next-url/users", paginator: { type: "next_url", next_url_path: "links.next", size_param: "limit" }, requests: 3, records_path: "data" },
    { name: "Link header", path: "/link/users", paginator: { type: "link_header", size_param: "per_page" }, requests: 3 },
    { name: "none", path: "/all/users", paginator: { type: "none" }, requests: 1 },
  ];

  for (const c of cases) {
    it(`${c.name}: every record once, resumable chunk by chunk`, async () => {
      const mark = api.requests.length;
      const connector = rest({ entities: [{ name: "users", path: c.path, paginator: c.paginator, records_path: c.records_path }] });
      const { records, chunks } = await drainEntity(connector, "users", { batchSize: 10, maxIterations: 1 });
      expect(records.map((r) => r.id)).toEqual(allIds);
      expect(requestsTo(c.path, mark)).toHaveLength(c.requests);
      expect(chunks).toBe(c.requests);
    });
  }

  it("honours a fixed page_size over the engine's batch size, and the server's cap", async () => {
    const mark = api.requests.length;
    const connector = rest({ entities: [{ name: "users", path: "/offset/users", paginator: { type: "offset", page_size: 500, total_path: "total" } }] });
    const { records } = await drainEntity(connector, "users", { batchSize: 10, maxIterations: 10 });
    expect(records).toHaveLength(25);
    // The fake caps pages at 50: one request holds all 25, whatever limit was asked.
    expect(requestsTo("/offset/users", mark).map((r) => r.query.limit)).toEqual(["500"]);
  });

  it("fails with a clear, non-retryable error when the body has no recognisable records", async () => {
    const connector = rest({ entities: [{ name: "users", path: "/page/users", records_path: "meta" , paginator: { type: "none" } }] });
    // `meta` is an object: one record. A scalar path is an error naming the entity.
    const { records } = await drainEntity(connector, "users");
    expect(records).toHaveLength(1);
    const bad = rest({ entities: [{ name: "users", path: "/page/users", records_path: "meta.total" }] });
    await expect(drainEntity(bad, "users")).rejects.toThrow(/rest: entity "users": GET \/page\/users: records at "meta.total" are not objects/);
  });
});

describe("REST auth kinds", () => {
  const page = { type: "page_number", size_param: "per_page", total_pages_path: "meta.total_pages" };
  const entity = (scheme: string) => [{ name: "users", path: `/secure/${scheme}/users`, paginator: page }];

  const good: [string, Record<string, unknown>][] = [
    ["bearer", { type: "bearer", token: "demo-token" }],
    ["basic", { type: "basic", username: "ada", password: "lovelace" }],
    ["header-key", { type: "api_key", name: "X-API-Key", api_key: "key-123" }],
    ["query-key", { type: "api_key", name: "api_key", api_key: "key-123", in: "query" }],
    ["oauth", { type: "oauth2_client_credentials", token_url: "", client_id: "mako", client_secret: "s3cret" }],
    ["oauth", { type: "oauth2_client_credentials", token_url: "", client_id: "mako", client_secret: "s3cret", client_auth: "body" }],
  ];
  for (const [scheme, auth] of good) {
    it(`${auth.type}${auth.client_auth ? ` (${auth.client_auth})` : ""} reads every page`, async () => {
      if (auth.token_url === "") auth.token_url = `${api.url}/oauth/token`;
      const connector = rest({ auth, entities: entity(scheme) }, `auth_${scheme}`);
      expect((await connector.testConnection()).success).toBe(true);
      const { records } = await drainEntity(connector, "users", { maxIterations: 5 });
      expect(records).toHaveLength(25);
    });
  }

  it("wrong credentials fail the connection test with one line that keeps the secret out", async () => {
    const bearer = await rest({ auth: { type: "bearer", token: "wrong-token" }, entities: entity("bearer") }).testConnection();
    expect(bearer.success).toBe(false);
    expect(bearer.message).toMatch(/401/);
    expect(bearer.message).not.toContain("wrong-token");
    const query = await rest({ auth: { type: "api_key", name: "api_key", api_key: "leaky-key", in: "query" }, entities: entity("query-key") }).testConnection();
    expect(query.success).toBe(false);
    expect(query.message).not.toContain("leaky-key");
    expect(query.message).not.toContain("\n");
    const oauth = await rest({
      auth: { type: "oauth2_client_credentials", token_url: `${api.url}/oauth/token`, client_id: "mako", client_secret: "not-it" },
      entities: entity("oauth"),
    }).testConnection();
    expect(oauth.success).toBe(false);
    expect(oauth.message).toMatch(/oauth\/token/);
    expect(oauth.message).not.toContain("not-it");
  });

  it("OAuth2: refreshes the token before it expires, and once more after a 401", async () => {
    const auth = { type: "oauth2_client_credentials", token_url: `${api.url}/oauth/token`, client_id: "mako", client_secret: "s3cret" };
    const connector = rest({ auth, entities: entity("oauth") }, "oauth_refresh");
    const issued = api.tokensIssued;
    const mark = api.requests.length;
    const first = await connector.fetchEntityChunk({ entity: "users", batchSize: 10, maxIterations: 1, onBatch: async () => {}, onProgress() {}, onLog() {} });
    expect(api.tokensIssued).toBe(issued + 1);

    // Tokens live 2 s: past 90% of that the connector asks for a new one before calling.
    await new Promise((r) => setTimeout(r, 1900));
    const second = await connector.fetchEntityChunk({ entity: "users", state: first, batchSize: 10, maxIterations: 1, onBatch: async () => {}, onProgress() {}, onLog() {} });
    expect(api.tokensIssued).toBe(issued + 2);
    expect(requestsTo("/secure/oauth/users", mark).map((r) => r.status)).toEqual([200, 200]);

    // A rotation on the server side: the call gets 401, the connector fetches a token and retries.
    api.revokeTokens();
    const third = await connector.fetchEntityChunk({ entity: "users", state: second, batchSize: 10, maxIterations: 1, onBatch: async () => {}, onProgress() {}, onLog() {} });
    expect(third.hasMore).toBe(false);
    expect(api.tokensIssued).toBe(issued + 3);
    expect(requestsTo("/secure/oauth/users", mark).map((r) => r.status)).toEqual([200, 200, 401, 200]);
  });
});

describe("REST rate limit from the config", () => {
  it("spaces requests at the API's documented rate unless the source's settings say otherwise", async () => {
    const config = { base_url: api.url, rate_limit: { requests_per_second: 10, burst: 1 }, entities: [{ name: "users", path: "/offset/users", paginator: { type: "offset", total_path: "total" } }] };
    const connector = new RestConnector({ name: "rate_limited", connector: "rest", config, settings: { maxRetries: 1 } });
    expect(connector.getDefaultRateLimit()).toEqual({ requestsPerSecond: 10, burst: 1, maxConcurrentRequests: undefined });
    const started = Date.now();
    await drainEntity(connector, "users", { batchSize: 5, maxIterations: 10 }); // 5 requests
    // Burst 1 at 10/s: the 4 requests after the first wait ~100 ms each.
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  it("paces an API whose config names no limit at 25 requests per second (burst 25)", async () => {
    const config = { base_url: api.url, entities: [{ name: "users", path: "/offset/users", paginator: { type: "offset", total_path: "total" } }] };
    const connector = new RestConnector({ name: "default_rate", connector: "rest", config, settings: {} });
    expect(connector.getDefaultRateLimit()).toEqual({ requestsPerSecond: 25, burst: 25 });
    const settings = resolveLimiterConfig({}, connector.getDefaultRateLimit());
    expect(settings).toMatchObject({ requestsPerSecond: 25, burst: 25, maxConcurrentRequests: 4 });
  });
});

describe("REST sub-resources", () => {
  it("fills /users/{id}/posts from each user, tags posts with users_id, resumes without re-reading parent pages", async () => {
    const mark = api.requests.length;
    const connector = rest({
      paginator: { type: "page_number", size_param: "per_page", total_pages_path: "meta.total_pages" },
      entities: [
        { name: "users", path: "/page/users" },
        { name: "posts", path: "/users/{id}/posts", parent: "users" },
      ],
    });
    const { records, chunks } = await drainEntity(connector, "posts", { batchSize: 10, maxIterations: 1 });
    expect(records).toHaveLength(75);
    expect(new Set(records.map((r) => r.id)).size).toBe(75);
    expect(records.every((r) => r.users_id === String(r.user_id))).toBe(true);
    // 3 parent pages + 25 post lists, each requested exactly once; a parent page is read in
    // the same chunk as the first list it opens, so there are 25 chunks.
    expect(requestsTo("/page/users", mark).map((r) => r.query.page)).toEqual(["1", "2", "3"]);
    expect(api.requests.slice(mark).filter((r) => /^\/users\/\d+\/posts$/.test(r.path))).toHaveLength(25);
    expect(chunks).toBe(25);
  });
});

describe("REST incremental", () => {
  const maxOf = (records: Record<string, unknown>[]) => records.map((r) => String(r.updated_at)).sort().at(-1)!;

  it("sends the high-water mark as a query parameter; the second run gets only newer records", async () => {
    const connector = rest({
      entities: [{ name: "users", path: "/page/users", paginator: { type: "page_number", size_param: "per_page" }, incremental: { cursor_field: "updated_at", param: "updated_since" } }],
    });
    expect(connector.describeEntities()[0]).toMatchObject({ name: "users", cursorField: "updated_at", incremental: true, primaryKey: ["id"] });
    let mark = api.requests.length;
    const full = await drainEntity(connector, "users", { batchSize: 10, maxIterations: 2 });
    expect(full.records).toHaveLength(25);
    expect(requestsTo("/page/users", mark).every((r) => r.query.updated_since === undefined)).toBe(true);

    const since = maxOf(full.records);
    api.touchUser(3);
    api.touchUser(7);
    mark = api.requests.length;
    const next = await drainEntity(connector, "users", { since, batchSize: 10, maxIterations: 1 });
    // The server filtered: it was asked for updated_since on every page and sent 3 records
    // (the mark itself is inclusive) instead of 25.
    const asked = requestsTo("/page/users", mark);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.query.updated_since === since)).toBe(true);
    expect(next.records.map((r) => r.id)).toEqual([3, 7, 25]);
  });

  it("formats the mark as epoch seconds or a date when the API wants it", async () => {
    const since = "2024-01-01T00:20:00.000Z";
    for (const [format, expected] of [["epoch", String(Date.parse(since) / 1000)], ["date", "2024-01-01"], ["iso", since]]) {
      const connector = rest({ entities: [{ name: "users", path: "/offset/users", paginator: { type: "offset", total_path: "total" }, incremental: { cursor_field: "updated_at", param: "updated_since", format } }] });
      const mark = api.requests.length;
      await drainEntity(connector, "users", { since, maxIterations: 5 });
      const asked = requestsTo("/offset/users", mark);
      expect(asked.length).toBeGreaterThan(0);
      expect(asked.every((r) => r.query.updated_since === expected)).toBe(true);
    }
  });

  it("pins the mark for the whole pass: a resumed chunk filters like the first", async () => {
    const connector = rest({ entities: [{ name: "users", path: "/cursor/users", paginator: { type: "cursor", cursor_path: "next_cursor", has_more_path: "has_more", size_param: "limit" }, incremental: { cursor_field: "updated_at", param: "updated_since", start: "2024-01-01T00:10:00Z" } }] });
    const mark = api.requests.length;
    const { records } = await drainEntity(connector, "users", { batchSize: 5, maxIterations: 1 });
    expect(records.length).toBeGreaterThan(5);
    expect(requestsTo("/cursor/users", mark).every((r) => r.query.updated_since === "2024-01-01T00:10:00.000Z")).toBe(true);
  });
});

describe("REST config validation", () => {
  const base = { base_url: "https://api.example.com" };
  const errorsOf = (config: unknown) => {
    const result = validateRestConfig(config);
    return result.ok ? [] : result.errors;
  };

  it("names the exact path of each bad field", () => {
    expect(
      errorsOf({
        ...base,
        entities: [{ name: "a" }, { name: "b" }, { name: "c", paginator: { type: "cursor" } }],
      }),
    ).toEqual(["entities[2].paginator.cursor_path: required"]);
    expect(errorsOf({ ...base, entities: [{ name: "a", paginator: { type: "pages" } }] })).toEqual([
      'entities[0].paginator.type: "pages" is not one of: none, page_number, offset, cursor, next_url, link_header',
    ]);
    expect(errorsOf({ ...base, entities: [{ name: "a", paginator: { type: "offset", limt_param: "n" } }] })).toEqual([
      'entities[0].paginator: unknown field "limt_param" (fields are: type, offset_param, limit_param, page_size, has_more_path, total_path, total_header)',
    ]);
    expect(errorsOf({ ...base, auth: { type: "bearer" }, entities: [{ name: "a" }] })).toEqual(["auth.token: required"]);
    expect(errorsOf({ base_url: "api.example.com", entities: [{ name: "a", method: "PUT" }] })).toEqual([
      "base_url: must be an http(s) URL",
      'entities[0].method: "PUT" is not one of: GET, POST',
    ]);
    expect(errorsOf({ ...base })).toEqual(["entities: required"]);
    expect(errorsOf({ ...base, entities: [{ name: "a", incremental: { cursor_field: "updated_at", param: "since", format: "unix" } }] })).toEqual([
      'entities[0].incremental.format: "unix" is not one of: iso, epoch, epoch_ms, date, raw',
    ]);
  });

  it("checks entities against each other: parents, placeholders, duplicate names", () => {
    expect(
      errorsOf({
        ...base,
        entities: [
          { name: "users" },
          { name: "posts", path: "/users/{id}/posts", parent: "user" },
          { name: "tags", path: "/tags/{id}" },
          { name: "users" },
        ],
      }),
    ).toEqual([
      'entities[3].name: "users" is already used by entities[0]',
      'entities[1].parent: no entity named "user"',
      "entities[2].parent: required: path has {id}",
    ]);
  });

  it("is what the connector's getConfigSchema gives mako sources add", () => {
    const result = validateConfig(new RestConnector({ name: "x", config: {}, settings: {} }).getConfigSchema(), {
      ...base,
      entities: [{ name: "a" }, { name: "b" }, { name: "c", paginator: { type: "cursor" } }],
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors).toEqual(["entities[2].paginator.cursor_path: required"]);
    expect(connectorRegistry.rest).toBe(RestConnector);
  });

  it("an unconfigured connector still describes itself; a misconfigured one fails in one line", async () => {
    const empty = new RestConnector({ name: "x", config: {}, settings: {} });
    expect(empty.getMetadata().supportedEntities).toEqual(["records"]);
    const result = await empty.testConnection();
    expect(result).toEqual({ success: false, message: "rest: invalid config: base_url: required; entities: required" });
  });

  it("marks secrets for encryption and redaction", async () => {
    const { isSecretSchema } = await import("../../src/connectors/base/secret");
    const { z } = await import("zod");
    const json = JSON.stringify(z.toJSONSchema(restConfigSchema, { unrepresentable: "any", io: "input" }));
    for (const field of ["token", "password", "api_key", "client_secret"]) {
      expect(json).toMatch(new RegExp(`"${field}":\\{[^}]*"secret":true`));
    }
    expect(isSecretSchema(z.string())).toBe(false);
  });

  it("reads JSON and YAML, and says where YAML is broken", () => {
    expect(parseConnectorConfigText('{"base_url":"https://a.b","entities":[{"name":"x"}]}')).toEqual({ base_url: "https://a.b", entities: [{ name: "x" }] });
    expect(parseConnectorConfigText("base_url: https://a.b\nentities:\n  - name: x\n")).toEqual({ base_url: "https://a.b", entities: [{ name: "x" }] });
    expect(() => parseConnectorConfigText("base_url: https://a.b\nentities:\n  - name: [x\n")).toThrow(/^config: not valid JSON or YAML at line \d+/);
  });
});

describe("docs/declarative.md REST example", () => {
  const load = () => parseConnectorConfigText(docExample("rest").replace("https://api.example.com", api.url)) as Record<string, unknown>;

  it("is under 25 lines and valid as written", () => {
    expect(docExample("rest").trim().split("\n").length).toBeLessThan(25);
    const result = validateRestConfig(parseConnectorConfigText(docExample("rest")));
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it("passes the conformance kit (crash/resume, idempotency, incremental) against the fake API", async () => {
    const report = await checkConnector({
      connector: RestConnector,
      config: load(),
      badConfig: { ...load(), auth: { type: "bearer", token: "nope" } },
      settings: { ...settings, batchSize: 10, maxIterations: 3 },
      changeSource: async () => {
        api.touchUser(4);
        api.addPost(9);
      },
    });
    expect(report.firstFailure).toBeUndefined();
    expect(report.ok).toBe(true);
  });
});

describe("paginator logic (pure)", () => {
  const headers = new Headers();
  const page = (body: unknown, records: number) => ({ body, headers, url: "https://api.test/v1/items?page=1", records: new Array(records).fill({}) });

  it("reads rel=next from Link headers, whatever the order, quoting and other relations", () => {
    expect(nextLink('<https://a.test/x?page=2>; rel="next", <https://a.test/x?page=9>; rel="last"')).toBe("https://a.test/x?page=2");
    expect(nextLink('<https://a.test/x?page=9>; rel="last", <https://a.test/x?page=3>; rel=next')).toBe("https://a.test/x?page=3");
    expect(nextLink('<https://a.test/x?a=1,2>; rel="prev next"')).toBe("https://a.test/x?a=1,2");
    expect(nextLink('<https://a.test/x?page=1>; rel="first"')).toBeUndefined();
    expect(nextLink(null)).toBeUndefined();
  });

  it("stops on an empty page, has_more false, a reached total, a missing or repeated cursor", () => {
    const offset = { type: "offset", offset_param: "offset", limit_param: "limit", total_path: "total" } as const;
    const at: PagePosition = { kind: "offset", offset: 20 };
    expect(nextPosition(offset, at, page({ total: 50 }, 10))).toEqual({ kind: "offset", offset: 30 });
    expect(nextPosition(offset, at, page({ total: 30 }, 10))).toBeNull();
    expect(nextPosition(offset, at, page({ total: 50 }, 0))).toBeNull();
    const cursor = { type: "cursor", cursor_path: "meta.next", cursor_param: "cursor", has_more_path: "meta.more" } as const;
    expect(nextPosition(cursor, { kind: "first" }, page({ meta: { next: "c2", more: true } }, 5))).toEqual({ kind: "cursor", cursor: "c2" });
    expect(nextPosition(cursor, { kind: "first" }, page({ meta: { next: "c2", more: false } }, 5))).toBeNull();
    expect(nextPosition(cursor, { kind: "cursor", cursor: "c2" }, page({ meta: { next: "c2", more: true } }, 5))).toBeNull();
    expect(nextPosition(cursor, { kind: "first" }, page({ meta: { next: null, more: true } }, 5))).toBeNull();
    const next = { type: "next_url", next_url_path: "next" } as const;
    expect(nextPosition(next, { kind: "first" }, page({ next: "?page=2" }, 5))).toEqual({ kind: "url", url: "https://api.test/v1/items?page=2" });
  });

  it("formats marks as ISO, epoch seconds, epoch ms, date or raw", () => {
    expect(formatSince("2024-03-05T06:07:08.900Z", "epoch")).toBe("1709618828");
    expect(formatSince(1709618828, "iso")).toBe("2024-03-05T06:07:08.000Z");
    expect(formatSince("2024-03-05T06:07:08.900Z", "epoch_ms")).toBe("1709618828900");
    expect(formatSince("2024-03-05T23:59:59Z", "date")).toBe("2024-03-05");
    expect(formatSince(4711, "raw")).toBe("4711");
    expect(() => formatSince("yesterday", "iso")).toThrow(/"yesterday" is not a timestamp/);
  });
});

describe("REST through Mako (what `mako sources add` and `mako sync` do)", () => {
  it("refuses a bad config naming the field, then syncs the docs example into the embedded database", async () => {
    const home = mkdtempSync(join(tmpdir(), "mako-rest-"));
    const mako = await Mako.open({ home });
    try {
      const bad = { base_url: api.url, entities: [{ name: "a" }, { name: "b" }, { name: "c", paginator: { type: "cursor" } }] };
      await expect(mako.sources.add({ name: "bad", connector: "rest", config: bad })).rejects.toThrow("entities[2].paginator.cursor_path: required");

      const config = parseConnectorConfigText(docExample("rest").replace("https://api.example.com", api.url));
      await mako.sources.add({ name: "demo", connector: "rest", config, settings: { ...settings, batchSize: 10 } });
      expect((await mako.sources.test("demo")).success).toBe(true);
      const listed = JSON.stringify(await mako.sources.get("demo"));
      expect(listed).not.toContain("demo-token");

      const started = Date.now();
      const { done } = await mako.sync("demo");
      const result = await done;
      const seconds = (Date.now() - started) / 1000;
      expect(result.status).toBe("succeeded");
      expect(Object.fromEntries(result.entities.map((e) => [e.entity, e.records]))).toEqual({ users: 25, posts: api.posts.length });
      console.log(`rest docs example through Mako: ${25 + api.posts.length} records, ${result.stats.requests} requests in ${seconds.toFixed(2)} s`);
    } finally {
      await mako.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
