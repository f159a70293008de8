import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGraphqlApi, type GraphqlApi } from "../../../bench/fakes/graphqlApi";
import { checkConnector } from "../../src/conformance";
import type { DataSourceSettings } from "../../src/connectors/base/types";
import { GraphqlConnector, parseConnectorConfigText, validateGraphqlConfig } from "../../src/connectors/graphql";
import { connectorRegistry } from "../../src/connectors/registry";
import { docExample } from "./docExample";
import { drainEntity } from "./drainEntity";

const settings: DataSourceSettings = { requestsPerSecond: 1000, burst: 1000, maxRetries: 1, requestTimeoutMs: 5000 };
const auth = { type: "bearer", token: "gql-token" };

const relayQuery = `query($first: Int, $after: String, $since: String) {
  users(first: $first, after: $after, updatedSince: $since) { pageInfo { hasNextPage endCursor } edges { node { id name updatedAt } } }
}`;
const offsetQuery = `query($offset: Int, $limit: Int, $since: String) {
  posts(offset: $offset, limit: $limit, updatedSince: $since) { id title authorId updatedAt }
}`;

let api: GraphqlApi;
beforeAll(async () => {
  api = await startGraphqlApi({ users: 23, postsCount: 17 });
});
afterAll(() => api?.close());

function gql(config: Record<string, unknown>, name = "gql_test") {
  return new GraphqlConnector({ name, connector: "graphql", config: { endpoint: api.url, auth, ...config }, settings });
}

describe("GraphQL pagination against graphql-js", () => {
  it("Relay connections: follows pageInfo.endCursor, reads edges[].node, resumes chunk by chunk", async () => {
    const mark = api.requests.length;
    const connector = gql({ entities: [{ name: "users", query: relayQuery }] });
    const { records, chunks } = await drainEntity(connector, "users", { batchSize: 10, maxIterations: 1 });
    expect(records.map((r) => r.id)).toEqual(api.users.map((u) => u.id));
    const sent = api.requests.slice(mark);
    expect(sent.map((r) => r.variables.first)).toEqual([10, 10, 10]);
    expect(sent[0].variables.after).toBeUndefined();
    expect(sent[1].variables.after).toEqual(expect.any(String));
    expect(chunks).toBe(3);
  });

  it("Relay `nodes` and an explicit path under data work too", async () => {
    const query = relayQuery.replace("edges { node { id name updatedAt } }", "nodes { id name updatedAt }");
    const connector = gql({ entities: [{ name: "users", query, path: "users", pagination: { type: "relay", page_size: 7 } }] });
    const { records } = await drainEntity(connector, "users", { maxIterations: 10 });
    expect(records).toHaveLength(23);
  });

  it("offset/limit variables: stops on the empty page", async () => {
    const mark = api.requests.length;
    const connector = gql({ entities: [{ name: "posts", query: offsetQuery }] });
    const { records } = await drainEntity(connector, "posts", { batchSize: 5, maxIterations: 2 });
    expect(records.map((r) => r.id)).toEqual(api.posts.map((p) => p.id));
    expect(api.requests.slice(mark).map((r) => r.variables.offset)).toEqual([0, 5, 10, 15, 17]);
  });

  it("passes fixed variables through", async () => {
    const mark = api.requests.length;
    const connector = gql({ entities: [{ name: "posts", query: offsetQuery, variables: { since: "2024-01-01T00:35:00Z" } }] });
    const { records } = await drainEntity(connector, "posts", { maxIterations: 5 });
    expect(records.length).toBeLessThan(17);
    expect(api.requests.slice(mark).every((r) => r.variables.since === "2024-01-01T00:35:00Z")).toBe(true);
  });
});

describe("GraphQL errors and auth", () => {
  it("an errors array in a 200 response fails the entity, naming it and the first error", async () => {
    const connector = gql({ entities: [{ name: "secrets", query: "query { secretUsers { id } }" }] });
    const mark = api.requests.length;
    await expect(drainEntity(connector, "secrets")).rejects.toThrow('graphql: entity "secrets": Not authorized to access secretUsers (at secretUsers)');
    expect(api.requests.slice(mark).map((r) => r.status)).toEqual([200]);
    const invalid = gql({ entities: [{ name: "users", query: "query { users { nope } }" }] });
    await expect(drainEntity(invalid, "users")).rejects.toThrow(/graphql: entity "users": Cannot query field "nope"/);
  });

  it("a wrong token fails the connection test in one line, without the token", async () => {
    const result = await gql({ auth: { type: "bearer", token: "wrong-gql" }, entities: [{ name: "users", query: relayQuery }] }).testConnection();
    expect(result.success).toBe(false);
    expect(result.message).toMatch(/401/);
    expect(result.message).not.toContain("wrong-gql");
    const ok = await gql({ entities: [{ name: "users", query: relayQuery }] }).testConnection();
    expect(ok).toEqual({ success: true, message: "Connected: users returned 1 record(s) on its first page" });
  });
});

describe("GraphQL incremental", () => {
  it("passes the mark in a variable; the second run gets only newer records from the server", async () => {
    const connector = gql({ entities: [{ name: "users", query: relayQuery, incremental: { cursor_field: "updatedAt", variable: "since" } }] });
    expect(connector.describeEntities()[0]).toMatchObject({ cursorField: "updatedAt", incremental: true });
    const full = await drainEntity(connector, "users", { maxIterations: 5 });
    const since = full.records.map((r) => String(r.updatedAt)).sort().at(-1)!;
    api.touchUser("u5");
    const mark = api.requests.length;
    const next = await drainEntity(connector, "users", { since, maxIterations: 5 });
    expect(api.requests.slice(mark).every((r) => r.variables.since === since)).toBe(true);
    // The mark is inclusive: the newest user of the first run comes again, with the touched one.
    expect(next.records.map((r) => r.id)).toEqual(["u5", "u23"]);
  });
});

describe("GraphQL config validation", () => {
  const errorsOf = (config: unknown) => {
    const result = validateGraphqlConfig(config);
    return result.ok ? [] : result.errors;
  };

  it("names the exact path of each bad field", () => {
    expect(errorsOf({ endpoint: "https://x.test/graphql", entities: [{ name: "a", query: "{ a { id } }" }, { name: "b" }] })).toEqual([
      "entities[1].query: required",
    ]);
    expect(errorsOf({ endpoint: "https://x.test/graphql", entities: [{ name: "a", query: "{ a }", pagination: { type: "cursor" } }] })).toEqual([
      'entities[0].pagination.type: "cursor" is not one of: relay, offset, none',
    ]);
    expect(
      errorsOf({
        endpoint: "https://x.test/graphql",
        entities: [{ name: "users", query: "query($first: Int) { users(first: $first) { pageInfo { hasNextPage } nodes { id } } }", incremental: { cursor_field: "updatedAt", variable: "since" } }],
      }),
    ).toEqual(["entities[0].pagination: the query declares no $after", "entities[0].incremental: the query declares no $since"]);
    expect(connectorRegistry.graphql).toBe(GraphqlConnector);
  });
});

describe("docs/declarative.md GraphQL example", () => {
  const load = () => parseConnectorConfigText(docExample("graphql").replace("https://api.example.com/graphql", api.url)) as Record<string, unknown>;

  it("is under 25 lines and valid as written", () => {
    expect(docExample("graphql").trim().split("\n").length).toBeLessThan(25);
    const result = validateGraphqlConfig(parseConnectorConfigText(docExample("graphql")));
    expect(result.ok ? [] : result.errors).toEqual([]);
  });

  it("passes the conformance kit (crash/resume, idempotency, incremental) against the graphql-js server", async () => {
    const report = await checkConnector({
      connector: GraphqlConnector,
      config: load(),
      badConfig: { ...load(), auth: { type: "bearer", token: "nope" } },
      settings: { ...settings, batchSize: 8, maxIterations: 1 },
      changeSource: async () => {
        api.touchUser("u2");
      },
    });
    expect(report.firstFailure).toBeUndefined();
    expect(report.ok).toBe(true);
  });
});
