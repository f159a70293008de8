import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mako, SecretsMustBeReenteredError } from "../../src/Mako";
import { startServer, type StartedServer } from "../../src/server";
import { captureServer } from "./capture";
import { runMako } from "./cli";

// Finding 2: a PATCH that changed base_url kept the stored key, and the connection test then
// sent `Authorization: Bearer sk_live_…` to the new host. A change of where requests go now
// needs the secrets entered again, for every connector, through the API, the CLI and for
// destinations.

let home: string;
let mako: Mako;
let server: StartedServer;
let owner: Awaited<ReturnType<typeof captureServer>>;
let attacker: Awaited<ReturnType<typeof captureServer>>;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "mako-binding-"));
  mako = await Mako.open({ home: join(home, "mako") });
  server = await startServer({ mako, port: 0, uiDir: false, log: () => {} });
  owner = await captureServer();
  attacker = await captureServer();
});

afterAll(async () => {
  await server?.close();
  await mako?.close();
  await owner?.close();
  await attacker?.close();
  rmSync(home, { recursive: true, force: true });
});

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(server.url + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe("the API (finding 2's attack)", () => {
  it("refuses a PATCH that moves base_url while keeping the stored key; the key never reaches the new host", async () => {
    const KEY = "sk_live_bound4567890";
    expect((await api("POST", "/api/sources", { name: "pay", connector: "stripe", config: { api_key: KEY, base_url: owner.url } })).status).toBe(201);
    for (const config of [{ base_url: attacker.url }, { base_url: attacker.url, api_key: "********" }, { base_url: attacker.url, api_key: "" }]) {
      const res = await api("PATCH", "/api/sources/pay", { config });
      expect(res.status, JSON.stringify(config)).toBe(400);
      expect(res.json).toMatchObject({ field: "config.api_key" });
      expect(res.json.error).toMatch(/^changing base_url changes where requests go: enter api_key again/);
    }
    expect((await mako.sources.unredacted("pay")).config).toEqual({ api_key: KEY, base_url: owner.url });
    await api("POST", "/api/sources/pay/test");
    expect(attacker.requests).toEqual([]);
    expect(owner.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`);

    // Entering the key again moves it; the test then goes to the new host with the new key only.
    const moved = await api("PATCH", "/api/sources/pay", { config: { base_url: attacker.url, api_key: "sk_test_newone12345" } });
    expect(moved.status).toBe(200);
    await api("POST", "/api/sources/pay/test");
    expect(attacker.requests.map((r) => r.headers.authorization)).toEqual(["Bearer sk_test_newone12345"]);
  });

  it("keeps the stored secrets for an edit that leaves where requests go alone", async () => {
    const config = { base_url: owner.url, auth: { type: "bearer", token: "rest-token-123456" }, headers: { Cookie: "sess=abcdef123" }, entities: [{ name: "users" }] };
    expect((await api("POST", "/api/sources", { name: "crm", connector: "rest", config })).status).toBe(201);
    const shown = (await api("GET", "/api/sources/crm")).json;
    // The API shows the config without its secrets and says which are set, by path.
    expect(shown.secrets).toEqual({ "auth.token": "set", "headers.Cookie": "set" });
    expect(JSON.stringify(shown.config)).not.toMatch(/rest-token|abcdef/);
    // The UI sends back what it was shown, with an entity added: secrets kept.
    const edited = await api("PATCH", "/api/sources/crm", { config: { ...shown.config, entities: [{ name: "users" }, { name: "teams" }] } });
    expect(edited.status).toBe(200);
    expect((await mako.sources.unredacted("crm")).config).toMatchObject({ auth: { token: "rest-token-123456" }, headers: { Cookie: "sess=abcdef123" } });
    const moved = await api("PATCH", "/api/sources/crm", { config: { ...shown.config, base_url: attacker.url } });
    expect(moved.status).toBe(400);
    expect(moved.json.error).toContain("enter auth.token, headers.Cookie again");
    expect((await mako.sources.unredacted("crm")).config).toMatchObject({ base_url: owner.url });
  });
});

describe("every connector's request targets come from its schema", () => {
  const cases: { name: string; connector: string; config: Record<string, unknown>; edit: Record<string, unknown>; reenter: string; changed: string }[] = [
    { name: "s1", connector: "stripe", config: { api_key: "sk_test_aaaa1111" }, edit: { base_url: "https://evil.example" }, reenter: "api_key", changed: "base_url" },
    { name: "c1", connector: "close", config: { api_key: "api_close_1111" }, edit: { base_url: "https://evil.example" }, reenter: "api_key", changed: "base_url" },
    { name: "p1", connector: "posthog", config: { api_key: "phx_key_1111", project_id: 1 }, edit: { project_id: 1, region: "eu" }, reenter: "api_key", changed: "region" },
    { name: "p2", connector: "posthog", config: { api_key: "phx_key_1111", project_id: 1 }, edit: { project_id: 1, base_url: "https://evil.example" }, reenter: "api_key", changed: "base_url" },
    {
      name: "r1",
      connector: "rest",
      config: { base_url: "https://api.example.com", auth: { type: "api_key", name: "key", api_key: "rest_key_1111", in: "query" }, entities: [{ name: "a" }] },
      edit: { base_url: "https://evil.example", auth: { type: "api_key", name: "key", in: "query" }, entities: [{ name: "a" }] },
      reenter: "auth.api_key",
      changed: "base_url",
    },
    {
      name: "r2",
      connector: "rest",
      config: {
        base_url: "https://api.example.com",
        auth: { type: "oauth2_client_credentials", token_url: "https://login.example.com/token", client_id: "me", client_secret: "oauth_secret_1111" },
        entities: [{ name: "a" }],
      },
      edit: {
        base_url: "https://api.example.com",
        auth: { type: "oauth2_client_credentials", token_url: "https://evil.example/token", client_id: "me" },
        entities: [{ name: "a" }],
      },
      reenter: "auth.client_secret",
      changed: "auth.token_url",
    },
    {
      name: "r3",
      connector: "rest",
      config: { base_url: "https://api.example.com", params: { token: { secret: "param_secret_1111" } }, entities: [{ name: "a" }] },
      edit: { base_url: "https://evil.example", params: { token: {} }, entities: [{ name: "a" }] },
      reenter: "params.token.secret",
      changed: "base_url",
    },
    {
      name: "g1",
      connector: "graphql",
      config: { endpoint: "https://api.example.com/graphql", auth: { type: "basic", username: "me", password: "gql_pass_1111" }, entities: [{ name: "a", query: "{ a { id } }" }] },
      edit: { endpoint: "https://evil.example/graphql", auth: { type: "basic", username: "me" }, entities: [{ name: "a", query: "{ a { id } }" }] },
      reenter: "auth.password",
      changed: "endpoint",
    },
  ];

  for (const c of cases) {
    it(`${c.connector}: changing ${c.changed} without ${c.reenter} is refused; with it, accepted`, async () => {
      await mako.sources.add({ name: c.name, connector: c.connector, config: c.config });
      const stored = (await mako.sources.unredacted(c.name)).config;
      const refused = await mako.sources.update(c.name, { config: c.edit }).catch((e: Error) => e);
      expect(refused).toBeInstanceOf(SecretsMustBeReenteredError);
      expect((refused as Error).message).toBe(
        `changing ${c.changed} changes where requests go: enter ${c.reenter} again (stored secrets are only sent where they were entered)`,
      );
      expect((await mako.sources.unredacted(c.name)).config).toEqual(stored);
      // Re-entered (the same value typed again counts): accepted.
      const path = c.reenter.split(".");
      const withSecret = structuredClone(c.edit);
      let at = withSecret as Record<string, unknown>;
      for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
      at[path.at(-1)!] = "typed-again-9999";
      await mako.sources.update(c.name, { config: withSecret });
      expect(JSON.stringify((await mako.sources.unredacted(c.name)).config)).toContain("typed-again-9999");
    });
  }

  it("an edit of another field keeps the secret (posthog project_id)", async () => {
    await mako.sources.add({ name: "p3", connector: "posthog", config: { api_key: "phx_keep_1111", project_id: 1 } });
    await mako.sources.update("p3", { config: { project_id: 2 } });
    expect((await mako.sources.unredacted("p3")).config).toMatchObject({ api_key: "phx_keep_1111", project_id: "2", region: "us" });
  });

  it("an auth of another type does not inherit the old secret", async () => {
    await mako.sources.add({ name: "r4", connector: "rest", config: { base_url: "https://api.example.com", auth: { type: "bearer", token: "bearer_1111" }, entities: [{ name: "a" }] } });
    const err = await mako.sources.update("r4", { config: { base_url: "https://api.example.com", auth: { type: "api_key", name: "k" }, entities: [{ name: "a" }] } }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/auth\.api_key: required/);
  });
});

describe("the REST connector sends credentials only to base_url's server", () => {
  it("refuses an entity path on another server", async () => {
    const err = await mako.sources
      .add({ name: "r5", connector: "rest", config: { base_url: "https://api.example.com", auth: { type: "bearer", token: "t_1111" }, entities: [{ name: "a", path: "https://evil.example/a" }] } })
      .catch((e: Error) => e);
    expect((err as Error).message).toMatch(/entities\[0\]\.path: must be a path under base_url/);
  });

  it("follows a next link to another server without the OAuth2 token or secret headers", async () => {
    const api = await captureServer((req) => {
      if (req.url.startsWith("/token")) return { body: { access_token: "oauth-access-1111", expires_in: 3600 } };
      return { body: { data: [{ id: 1 }], next: `${attacker.url}/page2` } };
    });
    attacker.requests.length = 0;
    try {
      await mako.sources.add({
        name: "r6",
        connector: "rest",
        config: {
          base_url: api.url,
          auth: { type: "oauth2_client_credentials", token_url: `${api.url}/token`, client_id: "me", client_secret: "cs_1111" },
          headers: { "X-Team": { secret: "team-secret-1111" } },
          paginator: { type: "next_url", next_url_path: "next" },
          records_path: "data",
          entities: [{ name: "a", headers: { "X-Entity": { secret: "entity-secret-1111" }, Accept: "application/json" } }],
        },
      });
      const { done } = await mako.sync("r6");
      await done.catch(() => {});
      expect(api.requests.find((r) => r.url.startsWith("/a"))!.headers).toMatchObject({ authorization: "Bearer oauth-access-1111", "x-team": "team-secret-1111", "x-entity": "entity-secret-1111" });
      expect(attacker.requests.length).toBeGreaterThan(0);
      for (const r of attacker.requests) {
        expect(r.headers.authorization).toBeUndefined();
        expect(r.headers["x-team"]).toBeUndefined();
        expect(r.headers["x-entity"]).toBeUndefined();
        expect(r.headers.accept).toContain("application/json");
      }
    } finally {
      await api.close();
    }
  });
});

describe("the CLI and destinations", () => {
  it("mako sources update: refused in one line when base_url moves without the key; settings and re-entered keys pass", async () => {
    const cliHome = join(home, "cli");
    await runMako(cliHome, ["sources", "add", "pay", "--connector", "stripe", "--config-json", JSON.stringify({ api_key: "sk_test_cli11111", base_url: owner.url })]);
    const refused = await runMako(cliHome, ["sources", "update", "pay", "--config-json", JSON.stringify({ base_url: attacker.url })]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toBe("error: changing base_url changes where requests go: enter api_key again (stored secrets are only sent where they were entered)\n");
    const listed = await runMako(cliHome, ["sources", "list"]);
    expect(listed.stdout).toContain(owner.url);
    expect(listed.stdout).not.toContain(attacker.url);
    expect((await runMako(cliHome, ["sources", "update", "pay", "--settings-json", '{"batchSize":10}'])).code).toBe(0);
    const moved = await runMako(cliHome, ["sources", "update", "pay", "--config-json", JSON.stringify({ base_url: attacker.url, api_key: "sk_test_cli22222" })]);
    expect(moved).toMatchObject({ code: 0, stdout: 'updated source "pay"\n' });
    expect((await runMako(cliHome, ["sources", "update", "pay"])).stderr).toMatch(/^error: nothing to change/);
  });

  it("mako destinations update: a new host without the password is refused; the same server keeps it", async () => {
    await mako.destinations.add({ name: "wh", kind: "postgres", url: "postgres://mako:pw-dest-1111@db.internal:5432/analytics?sslmode=require" });
    const refused = await mako.destinations.update("wh", { url: "postgres://mako@evil.example:5432/analytics" }).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(SecretsMustBeReenteredError);
    expect((refused as Error).message).toMatch(/^changing the server of destination "wh" \(db\.internal:5432 → evil\.example:5432\) changes where requests go: enter the URL's password again/);
    const masked = await mako.destinations.update("wh", { url: "postgres://mako:********@db.internal:5432/warehouse" });
    expect(masked.url).toBe("postgres://mako:********@db.internal:5432/warehouse");
    expect((await mako.store.getDestination("wh")).url).toBe("postgres://mako:pw-dest-1111@db.internal:5432/warehouse");
    await mako.destinations.update("wh", { url: "postgres://mako:pw-new-2222@elsewhere.internal:5432/warehouse" });
    expect((await mako.store.getDestination("wh")).url).toBe("postgres://mako:pw-new-2222@elsewhere.internal:5432/warehouse");

    const cliHome = join(home, "cli-dest");
    await runMako(cliHome, ["destinations", "add", "wh", "--type", "postgres", "--url", "postgres://u@db.internal/x?password=pw-q-1111", "--no-test"]);
    const cli = await runMako(cliHome, ["destinations", "update", "wh", "--url", "postgres://u@10.9.9.9/x"]);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(cli.stderr).toMatch(/^error: changing the server of destination "wh"/);
    const kept = await runMako(cliHome, ["destinations", "update", "wh", "--url", "postgres://u@db.internal/y"]);
    expect(kept.stdout).toBe('updated destination "wh": postgres://u@db.internal/y?password=********\n');
  });
});
