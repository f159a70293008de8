import Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startChildServer } from "./childServer";
import { runMako, startMako } from "./cli";

// Findings 3 and 10: an API key in a stored next-page URL, mako.db readable by all, and
// secrets shown in clear by `sources list`, `destinations list` and the API. This syncs,
// fails and SIGKILLs sources holding known secrets, then searches the database files (WAL
// included) and every output for them.

const tag = randomBytes(4).toString("hex");
const SECRETS = {
  queryKey: `qk-${tag}-query-api-key`,
  cookie: `ck-${tag}-session-cookie`,
  custom: `xc-${tag}-marked-header`,
  accessKey: `ak-${tag}-access-key-param`,
  bearer: `bt-${tag}-bearer-token`,
  pgPasswordAuthority: `pa-${tag}-pg-password`,
  pgPasswordQuery: `pq-${tag}-pg-password`,
};
/** Every form a secret could be written in: raw, URL-encoded, JSON-escaped. */
const forms = (s: string) => [...new Set([s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1)])];

const PAGES = 6;
let home: string;
let api: Server;
let apiUrl: string;
/** What the fake API was sent: proof the secrets were used, so "no hits" is not vacuous. */
const received: string[] = [];
const outputs: { what: string; text: string }[] = [];

function say(what: string, text: string) {
  outputs.push({ what, text });
}

/**
 * The source API: `items` pages with next links that repeat every query parameter (the key
 * too, as many APIs do), slowly enough to kill a sync mid-way; `flaky` fails on page 2 and
 * `broken` answers 401 — both echoing the request, secrets included, in their error bodies.
 */
function sourceApi(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) {
  const url = new URL(req.url!, apiUrl);
  received.push(`${req.url} ${JSON.stringify(req.headers)}`);
  const echo = JSON.stringify({ error: "nope", url: req.url, headers: req.headers });
  const page = Number(url.searchParams.get("page") ?? 1);
  if (url.pathname === "/broken") return void res.writeHead(401, { "content-type": "application/json" }).end(echo);
  if (url.pathname === "/flaky" && page >= 2) return void res.writeHead(500, { "content-type": "application/json" }).end(echo);
  const next = new URL(url);
  next.searchParams.set("page", String(page + 1));
  const body = JSON.stringify({ data: [{ id: page, path: url.pathname }], next: page < PAGES ? next.toString() : null });
  setTimeout(() => res.writeHead(200, { "content-type": "application/json", ...(page < PAGES ? { link: `<${next}>; rel="next"` } : {}) }).end(body), 250);
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "mako-at-rest-"));
  api = createServer(sourceApi);
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
  apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((r) => api?.close(() => r()));
  rmSync(home, { recursive: true, force: true });
});

/** The database files as they are now (the WAL of a killed process included). */
function databaseFiles(): { file: string; bytes: Buffer }[] {
  return ["mako.db", "mako.db-wal", "mako.db-shm"].filter((f) => existsSync(join(home, f))).map((f) => ({ file: f, bytes: readFileSync(join(home, f)) }));
}

function expectNoSecretIn(where: string, content: string | Buffer) {
  for (const [name, secret] of Object.entries(SECRETS)) {
    for (const form of forms(secret)) {
      const found = typeof content === "string" ? content.includes(form) : content.includes(Buffer.from(form));
      expect(found, `${name} (${form}) found in ${where}`).toBe(false);
    }
  }
}

describe("no secret in clear at rest or in output", () => {
  it("syncs, fails and SIGKILLs sources with known secrets; the database files and every output hold none of them", async () => {
    const run = async (args: string[]) => {
      const r = await runMako(home, args);
      say(`mako ${args.join(" ")}`, r.stdout + r.stderr);
      return r;
    };
    const alpha = {
      base_url: apiUrl,
      auth: { type: "api_key", name: "apikey", api_key: SECRETS.queryKey, in: "query" },
      headers: { Cookie: SECRETS.cookie, "X-Custom": { secret: SECRETS.custom } },
      params: { access_key: SECRETS.accessKey },
      records_path: "data",
      paginator: { type: "next_url", next_url_path: "next" },
      entities: [{ name: "items" }, { name: "flaky" }, { name: "broken" }],
    };
    const beta = {
      base_url: apiUrl,
      auth: { type: "bearer", token: SECRETS.bearer },
      records_path: "data",
      paginator: { type: "link_header" },
      entities: [{ name: "items" }],
    };
    const settings = JSON.stringify({ maxIterations: 1, maxRetries: 0 });
    expect((await run(["sources", "add", "alpha", "--connector", "rest", "--config-json", JSON.stringify(alpha), "--settings-json", settings])).code).toBe(0);
    expect((await run(["sources", "add", "beta", "--connector", "rest", "--config-json", JSON.stringify(beta), "--settings-json", settings])).code).toBe(0);
    const pgUrl = `postgres://postgres:${SECRETS.pgPasswordAuthority}@127.0.0.1:5432/test?password=${SECRETS.pgPasswordQuery}`;
    expect((await run(["destinations", "add", "wh", "--type", "postgres", "--url", pgUrl])).code).toBe(0);

    // alpha: items succeed over 6 pages, flaky fails with its checkpoint on page 2, broken is refused.
    const synced = await run(["sync", "alpha"]);
    expect(synced.code).not.toBe(0);
    expect(synced.stdout).toMatch(/items: 6 records/);
    expect(synced.stdout).toMatch(/flaky: 1 records .*FAILED: GET .*\/flaky\?.*HTTP 500/);
    expect(synced.stdout).toMatch(/broken: 0 records .*FAILED: GET .*\/broken.*HTTP 401/);

    // beta: killed after its first commits, its WAL left as it was.
    const killed = startMako(home, ["sync", "beta"]);
    const db = () => new Database(join(home, "mako.db"), { readonly: true, fileMustExist: true });
    const deadline = Date.now() + 60_000;
    for (;;) {
      const conn = db();
      const state = conn.prepare(`SELECT checkpoint FROM _mako_state WHERE namespace = 'beta'`).get() as { checkpoint: string } | undefined;
      conn.close();
      if (state && JSON.parse(state.checkpoint).seq >= 2) break;
      if (Date.now() > deadline) throw new Error(`beta never committed: ${killed.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    killed.child.kill("SIGKILL");
    await new Promise((r) => killed.child.once("exit", r));
    say("killed mako sync beta", killed.output());
    expect(existsSync(join(home, "mako.db-wal"))).toBe(true);
    for (const { file, bytes } of databaseFiles()) expectNoSecretIn(`${file} after SIGKILL`, bytes);

    // Positions were stored (without their keys) and resume works.
    const conn = db();
    const positions = conn.prepare(`SELECT namespace, entity, checkpoint FROM _mako_state WHERE checkpoint LIKE '%"url"%'`).all() as { namespace: string; entity: string; checkpoint: string }[];
    conn.close();
    expect(positions.map((p) => `${p.namespace}.${p.entity}`).sort()).toEqual(["alpha.flaky", "beta.items"]);
    expect(positions.find((p) => p.entity === "flaky")!.checkpoint).toMatch(/"url":"http:\/\/127\.0\.0\.1:\d+\/flaky\?page=2"/);
    const resumed = await run(["sync", "beta"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/items: \d+ records .*resumed/);
    expect((await run(["sql", "SELECT count(*) AS n FROM beta__items", "--json"])).stdout).toBe(`{"n":${PAGES}}\n`);

    // Every way of looking at it.
    await run(["sources", "list"]);
    await run(["destinations", "list"]);
    const runs = await run(["runs"]);
    for (const id of new Set(runs.stdout.match(/run_[a-z0-9_]+/g))) await run(["logs", id]);
    await run(["sources", "update", "alpha", "--config-json", JSON.stringify({ ...alpha, base_url: "http://127.0.0.9:1", auth: { type: "api_key", name: "apikey", in: "query" } })]);
    await run(["sources", "test", "alpha"]);

    const server = await startChildServer(home);
    try {
      const get = async (path: string, init?: RequestInit) => {
        const res = await fetch(server.url + path, init);
        const text = await res.text();
        say(`${init?.method ?? "GET"} ${path}`, text);
        return JSON.parse(text);
      };
      const sources = await get("/api/sources");
      expect(sources.find((s: { name: string }) => s.name === "alpha").secrets).toEqual({
        "auth.api_key": "set",
        "headers.Cookie": "set",
        "headers.X-Custom.secret": "set",
        "params.access_key": "set",
      });
      expect(sources.find((s: { name: string }) => s.name === "beta").secrets).toEqual({ "auth.token": "set" });
      await get("/api/sources/alpha");
      for (const r of await get("/api/runs?limit=500")) await get(`/api/runs/${r.id}`);
      await get("/api/sources/alpha/tables");
      await get("/api/sources/alpha/tables/items/rows");
      await get("/api/sources/alpha", { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ config: { base_url: "http://127.0.0.9:1" } }) });
      await get("/api/sources/alpha/test", { method: "POST" });
      // While the server holds the database open, its WAL and shm exist: search them too.
      for (const { file, bytes } of databaseFiles()) expectNoSecretIn(`${file} while serving`, bytes);
    } finally {
      await server.stop();
      say("server output", server.output());
    }

    // The secrets were really used: every one reached the source API.
    const sent = received.join("\n");
    for (const s of [SECRETS.queryKey, SECRETS.cookie, SECRETS.custom, SECRETS.accessKey, SECRETS.bearer]) expect(sent).toContain(s);
    // …and none is anywhere else.
    for (const { what, text } of outputs) expectNoSecretIn(what, text);
    for (const { file, bytes } of databaseFiles()) expectNoSecretIn(file, bytes);
    // The failures still say what failed (with the secrets masked).
    expect(outputs.map((o) => o.text).join("\n")).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/broken\?.*apikey=\*\*\*.*HTTP 401/);
  }, 600_000);

  it("creates mako.db, its WAL and shm, and the key file readable by the owner only", async () => {
    const parent = mkdtempSync(join(tmpdir(), "mako-modes-"));
    const fresh = join(parent, "home");
    try {
      const server = await startChildServer(fresh);
      try {
        await fetch(`${server.url}/api/sources`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "s", connector: "sample", config: { count: 3 } }) });
        for (const f of ["mako.db", "mako.db-wal", "mako.db-shm", "secret.key"]) {
          expect(statSync(join(fresh, f)).mode & 0o777, f).toBe(0o600);
        }
        expect(statSync(fresh).mode & 0o777).toBe(0o700);
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  }, 120_000);
});
