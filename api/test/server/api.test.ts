import { serve, type ServerType } from "@hono/node-server";
import { mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectorRegistry } from "../../src/connectors/registry";
import { Mako } from "../../src/Mako";
import { resolveApiToken } from "../../src/server/apiToken";
import { createServer, startServer, type StartedServer } from "../../src/server";
import { KeyedConnector } from "./keyedConnector";
import { readSse } from "./sse";

const SECRET = "correct-horse-battery";
// A sync slow enough to watch live, even on a loaded machine: 30 pages of 40 ms per entity.
const SLOW = { config: { count: 300, seed: 7, page_delay_ms: 40 }, settings: { batchSize: 10, maxIterations: 2 } };

let home: string;
let uiDir: string;
let mako: Mako;
let server: StartedServer;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(server.url + path, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const isJson = res.headers.get("content-type")?.startsWith("application/json");
  return { status: res.status, text, json: isJson ? JSON.parse(text) : undefined, headers: res.headers };
}

async function waitForRun(id: string) {
  const res = await fetch(`${server.url}/api/runs/${id}/events`);
  return readSse(res);
}

beforeAll(async () => {
  connectorRegistry.keyed = KeyedConnector;
  home = mkdtempSync(join(tmpdir(), "mako-api-"));
  uiDir = join(home, "ui");
  mkdirSync(join(uiDir, "assets"), { recursive: true });
  writeFileSync(join(uiDir, "index.html"), "<!doctype html><title>Mako UI</title>");
  writeFileSync(join(uiDir, "assets", "app.js"), "console.log('ui')");
  writeFileSync(join(home, "outside.txt"), "not for the web");
  mako = await Mako.open({ home: join(home, "mako") });
  server = await startServer({ mako, port: 0, uiDir, log: () => {} });
});

afterAll(async () => {
  await server?.close();
  await mako?.close();
  delete connectorRegistry.keyed;
  rmSync(home, { recursive: true, force: true });
});

describe("connectors", () => {
  it("lists connectors with entities, incremental capability and a JSON Schema marking secrets", async () => {
    const { status, json } = await call("GET", "/api/connectors");
    expect(status).toBe(200);
    const sample = json.find((c: any) => c.id === "sample");
    expect(sample).toMatchObject({ name: "Sample", iconUrl: "/api/connectors/sample/icon.svg" });
    expect(sample.entities.map((e: any) => [e.name, e.incremental])).toEqual([
      ["users", true],
      ["products", true],
      ["purchases", true],
    ]);
    expect(sample.configSchema.properties.count).toMatchObject({ type: "integer", default: 1000 });
    const keyed = json.find((c: any) => c.id === "keyed");
    expect(keyed.configSchema.properties.api_key.secret).toBe(true);
    expect(keyed.configSchema.required).toEqual(["account", "api_key"]);
  });

  it("serves a connector's icon, and 404s for an unknown connector", async () => {
    const res = await fetch(`${server.url}/api/connectors/sample/icon.svg`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/svg+xml");
    expect(await res.text()).toContain("<svg");
    // A connector without an icon file gets a generated monogram.
    expect(await (await fetch(`${server.url}/api/connectors/keyed/icon.svg`)).text()).toContain(">K</text>");
    const missing = await call("GET", "/api/connectors/nope/icon.svg");
    expect(missing.status).toBe(404);
    expect(missing.json.error).toContain('"nope"');
  });

  it("tests a config before it is stored, naming a bad field", async () => {
    const ok = await call("POST", "/api/connectors/sample/test", { config: { count: 5 } });
    expect(ok.json).toEqual({ success: true, message: "Sample source ready: 5 users, seed 1" });
    const wrongKey = await call("POST", "/api/connectors/keyed/test", { config: { account: "a", api_key: "wrong-key-123" } });
    expect(wrongKey.json.success).toBe(false);
    const bad = await call("POST", "/api/connectors/sample/test", { config: { count: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe("config.count");
  });
});

describe("sources", () => {
  it("rejects bad input with a 400 naming the field", async () => {
    const badConfig = await call("POST", "/api/sources", { name: "shop", connector: "sample", config: { count: "many" } });
    expect(badConfig.status).toBe(400);
    expect(badConfig.json).toMatchObject({ field: "config.count" });
    expect(badConfig.json.error).toMatch(/count/);

    const missing = await call("POST", "/api/sources", { name: "crm", connector: "keyed", config: { account: "acme" } });
    expect(missing.status).toBe(400);
    expect(missing.json.field).toBe("config.api_key");

    const badName = await call("POST", "/api/sources", { name: "Bad Name", connector: "sample", config: {} });
    expect(badName.status).toBe(400);
    expect(badName.json.field).toBe("name");

    const unknownConnector = await call("POST", "/api/sources", { name: "x", connector: "nope", config: {} });
    expect(unknownConnector.status).toBe(400);
    expect(unknownConnector.json.field).toBe("connector");

    const noName = await call("POST", "/api/sources", { connector: "sample" });
    expect(noName.status).toBe(400);
    expect(noName.json.field).toBe("name");

    const notJson = await call("POST", "/api/sources", "{oops");
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toMatch(/not valid JSON/);

    expect((await call("GET", "/api/sources")).json.map((s: any) => s.name)).not.toContain("shop");
  });

  it("tests the connection first when asked (test: true), storing nothing when it fails", async () => {
    const failed = await call("POST", "/api/sources", { name: "tested", connector: "keyed", config: { account: "a", api_key: "wrong-key-123" }, test: true });
    expect(failed.status).toBe(422);
    expect(failed.json).toEqual({ field: "test", error: 'connection test of source "tested" failed: credentials rejected: wrong api_key' });
    expect((await call("GET", "/api/sources")).json.map((s: any) => s.name)).not.toContain("tested");
    const notBoolean = await call("POST", "/api/sources", { name: "tested", connector: "keyed", config: { account: "a", api_key: "wrong-key-123" }, test: "yes" });
    expect(notBoolean.status).toBe(400);
    expect(notBoolean.json.field).toBe("test");

    // Without the flag (the default), the same source is stored untested.
    const untested = await call("POST", "/api/sources", { name: "tested", connector: "keyed", config: { account: "a", api_key: "wrong-key-123" } });
    expect(untested.status).toBe(201);
    const passed = await call("POST", "/api/sources", { name: "tested_ok", connector: "keyed", config: { account: "a", api_key: SECRET }, test: true });
    expect(passed.status).toBe(201);
    for (const name of ["tested", "tested_ok"]) expect((await call("DELETE", `/api/sources/${name}?data=drop`)).status).toBe(200);
  });

  it("answers 404 with a JSON error for an unknown source on every route", async () => {
    for (const [method, path] of [
      ["GET", "/api/sources/ghost"],
      ["PATCH", "/api/sources/ghost"],
      ["DELETE", "/api/sources/ghost"],
      ["POST", "/api/sources/ghost/test"],
      ["POST", "/api/sources/ghost/sync"],
      ["GET", "/api/sources/ghost/tables"],
      ["GET", "/api/sources/ghost/tables/users/rows"],
      ["GET", "/api/runs?source=ghost"],
    ]) {
      const res = await call(method, path, method === "PATCH" ? {} : undefined);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.json.error, `${method} ${path}`).toContain('"ghost"');
    }
    expect((await call("GET", "/api/runs/run_nope")).status).toBe(404);
    expect((await call("GET", "/api/nothing-here")).status).toBe(404);
  });

  it("never returns a secret: shown as set, kept across edits, usable for tests", async () => {
    const created = await call("POST", "/api/sources", { name: "crm", connector: "keyed", config: { account: "acme", api_key: SECRET } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: "crm", config: { account: "acme" }, secrets: { api_key: "set" } });
    for (const res of [created, await call("GET", "/api/sources/crm"), await call("GET", "/api/sources")]) {
      expect(res.text).not.toContain(SECRET);
      expect(res.text).not.toContain("********");
    }
    expect((await call("POST", "/api/sources/crm/test")).json).toEqual({ success: true, message: "key accepted" });

    // An edit that leaves the secret out keeps it.
    const edited = await call("PATCH", "/api/sources/crm", { config: { account: "acme-eu" } });
    expect(edited.status).toBe(200);
    expect(edited.json).toMatchObject({ config: { account: "acme-eu" }, secrets: { api_key: "set" } });
    expect(edited.text).not.toContain(SECRET);
    expect((await call("POST", "/api/sources/crm/test")).json.success).toBe(true);

    // A new value replaces it; the connection test sees the change.
    await call("PATCH", "/api/sources/crm", { config: { account: "acme-eu", api_key: "another-key-456" } });
    expect((await call("POST", "/api/sources/crm/test")).json).toEqual({ success: false, message: "credentials rejected: wrong api_key" });

    const invalid = await call("PATCH", "/api/sources/crm", { config: { account: "" } });
    expect(invalid.status).toBe(400);
    expect(invalid.json.field).toBe("config.account");
    const unknownField = await call("PATCH", "/api/sources/crm", { colour: "red" });
    expect(unknownField.status).toBe(400);
    expect(unknownField.json.field).toBe("colour");
  });

  it("keeps the entity selection a source was saved with; refuses unknown entities naming the known ones", async () => {
    const unknown = await call("POST", "/api/sources", { name: "picky", connector: "sample", config: { count: 3 }, entities: ["users", "orders"] });
    expect(unknown.status).toBe(400);
    expect(unknown.json).toEqual({ field: "entities", error: 'unknown entity "orders" for connector "sample"; it has: users, products, purchases' });
    expect((await call("GET", "/api/sources/picky")).status).toBe(404);
    const tooLong = await call("POST", "/api/sources", { name: "picky", connector: "sample", entities: ["x".repeat(201)] });
    expect(tooLong.json.field).toBe("entities[0]");

    const created = await call("POST", "/api/sources", { name: "picky", connector: "sample", config: { count: 3 }, entities: ["users", "purchases"] });
    expect(created.status).toBe(201);
    expect(created.json.entities).toEqual(["users", "purchases"]);
    // A sync that names no entities reads the saved ones.
    const run = (await waitForRun((await call("POST", "/api/sources/picky/sync", {})).json.runId)).at(-1)!;
    expect(run.data.entities.map((e: any) => e.entity)).toEqual(["users", "purchases"]);

    const edited = await call("PATCH", "/api/sources/picky", { entities: ["products"] });
    expect(edited.json).toMatchObject({ entities: ["products"], config: { count: 3 } });
    // A patch of something else leaves the selection alone; a bad one changes nothing.
    expect((await call("PATCH", "/api/sources/picky", { config: { count: 4 } })).json.entities).toEqual(["products"]);
    const bad = await call("PATCH", "/api/sources/picky", { entities: ["nope"], config: { count: 9 } });
    expect(bad.status).toBe(400);
    expect(bad.json.field).toBe("entities");
    expect((await call("GET", "/api/sources/picky")).json).toMatchObject({ entities: ["products"], config: { count: 4 } });

    expect((await call("PATCH", "/api/sources/picky", { entities: null })).json.entities).toBeNull();
    expect((await call("PATCH", "/api/sources/picky", { entities: ["users"] })).json.entities).toEqual(["users"]);
    expect((await call("PATCH", "/api/sources/picky", { entities: [] })).json.entities).toBeNull();
    expect((await call("DELETE", "/api/sources/picky?data=drop")).status).toBe(200);
  });

  it("lists a REST source's own entities (from its config), and follows only those in a run", async () => {
    // Nothing listens on port 9: the run fails, but only after naming its entities.
    const config = { base_url: "http://127.0.0.1:9/v1", entities: [{ name: "users" }, { name: "posts" }] };
    const created = await call("POST", "/api/sources", { name: "declared", connector: "rest", config, entities: ["posts"] });
    expect(created.status).toBe(201);
    expect(created.json.availableEntities.map((e: any) => e.name)).toEqual(["users", "posts"]);
    expect(created.json.entities).toEqual(["posts"]);
    const generic = await call("PATCH", "/api/sources/declared", { entities: ["records"] });
    expect(generic.json.error).toBe('unknown entity "records" for connector "rest"; it has: users, posts');

    const { json } = await call("POST", "/api/sources/declared/sync", {});
    const events = await waitForRun(json.runId);
    expect([...new Set(events.filter((e) => e.event === "progress").map((e) => e.data.entity))]).toEqual(["posts"]);
    expect(events.at(-1)!.data.entities.map((e: any) => e.entity)).toEqual(["posts"]);
    // All of them: the source's two, not the connector's generic placeholder.
    await call("PATCH", "/api/sources/declared", { entities: null });
    const all = await waitForRun((await call("POST", "/api/sources/declared/sync", {})).json.runId);
    expect([...new Set(all.filter((e) => e.event === "progress").map((e) => e.data.entity))].sort()).toEqual(["posts", "users"]);
    await call("DELETE", "/api/sources/declared?data=drop");
  });

  it("with test: true, stores a source only when its connection test passes (422 with the reason otherwise)", async () => {
    const body = { name: "tested", connector: "keyed", config: { account: "acme", api_key: "wrong-key-123" } };
    const failed = await call("POST", "/api/sources", { ...body, test: true });
    expect(failed.status).toBe(422);
    expect(failed.json).toEqual({ field: "test", error: 'connection test of source "tested" failed: credentials rejected: wrong api_key' });
    expect((await call("GET", "/api/sources/tested")).status).toBe(404);
    // A config that does not validate is still a 400 naming the field, before any test.
    const invalid = await call("POST", "/api/sources", { ...body, config: { account: "acme" }, test: true });
    expect(invalid.json).toMatchObject({ field: "config.api_key" });
    expect((await call("POST", "/api/sources", { ...body, test: "yes" })).json.field).toBe("test");

    // Saved anyway: test false (or left out) stores it as given.
    const anyway = await call("POST", "/api/sources", { ...body, test: false });
    expect(anyway.status).toBe(201);
    // A taken name is a 409 before the test runs.
    const taken = await call("POST", "/api/sources", { ...body, config: { account: "acme", api_key: SECRET }, test: true });
    expect(taken.status).toBe(409);
    expect(taken.json.error).toBe('a source named "tested" already exists');
    await call("DELETE", "/api/sources/tested?data=drop");

    const passed = await call("POST", "/api/sources", { ...body, config: { account: "acme", api_key: SECRET }, test: true });
    expect(passed.status).toBe(201);
    expect(passed.json).toMatchObject({ name: "tested", secrets: { api_key: "set" } });
    expect(passed.text).not.toContain(SECRET);
    await call("DELETE", "/api/sources/tested?data=drop");
  });

  it("refuses a duplicate name with 409, removes a source", async () => {
    expect((await call("POST", "/api/sources", { name: "tmp", connector: "sample", config: { count: 1 } })).status).toBe(201);
    const dup = await call("POST", "/api/sources", { name: "tmp", connector: "sample", config: { count: 1 } });
    expect(dup.status).toBe(409);
    expect(dup.json.error).toContain('"tmp"');
    expect((await call("DELETE", "/api/sources/tmp?data=drop")).json).toEqual({ removed: "tmp", data: "drop", droppedFrom: [] });
    expect((await call("GET", "/api/sources/tmp")).status).toBe(404);
  });
});

describe("syncs, runs and preview", () => {
  it("syncs with live progress over SSE, then shows the run and the rows", async () => {
    await call("POST", "/api/sources", { name: "shop", connector: "sample", ...SLOW });
    const started = await call("POST", "/api/sources/shop/sync", {});
    expect(started.status).toBe(202);
    const runId: string = started.json.runId;

    // One sync per source at a time.
    const second = await call("POST", "/api/sources/shop/sync", {});
    expect(second.status).toBe(409);
    expect(second.json.error).toContain(runId);

    const res = await fetch(`${server.url}/api/runs/${runId}/events`);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = await readSse(res);
    const end = events.at(-1)!;
    expect(end.event).toBe("end");
    expect(end.data).toMatchObject({ id: runId, status: "succeeded", records: 630 });
    const progress = events.filter((e) => e.event === "progress");
    // Live figures arrived while the users were still being fetched, before the end.
    const partial = progress.find((e) => e.data.entity === "users" && e.data.status === "running" && e.data.records > 0 && e.data.records < 300);
    expect(partial, JSON.stringify(progress.map((e) => e.data))).toBeDefined();
    expect(partial!.data.total).toBe(300);
    expect(partial!.data.recordsPerSecond).toBeGreaterThan(0);
    expect(progress.findLast((e) => e.data.entity === "purchases")!.data).toMatchObject({ status: "succeeded", records: 300 });
    expect(events.indexOf(partial!)).toBeLessThan(events.length - 1);

    const run = await call("GET", `/api/runs/${runId}`);
    expect(run.json).toMatchObject({ id: runId, source: "shop", status: "succeeded", fullRefresh: false, error: null });
    expect(run.json.durationMs).toBeGreaterThan(0);
    expect(run.json.entities.map((e: any) => [e.entity, e.status, e.records])).toEqual([
      ["users", "succeeded", 300],
      ["products", "succeeded", 30],
      ["purchases", "succeeded", 300],
    ]);
    expect(Array.isArray(run.json.logs)).toBe(true);

    const runs = await call("GET", "/api/runs?source=shop");
    expect(runs.json.map((r: any) => r.id)).toEqual([runId]);
    expect((await call("GET", "/api/sources/shop")).json.lastRun).toMatchObject({ id: runId, status: "succeeded" });

    // Events of an ended run replay its end at once.
    const replay = await waitForRun(runId);
    expect(replay.at(-1)).toMatchObject({ event: "end", data: { status: "succeeded" } });

    const tables = await call("GET", "/api/sources/shop/tables");
    expect(tables.json.map((t: any) => [t.entity, t.table, t.rows])).toEqual(
      expect.arrayContaining([
        ["users", "shop__users", 300],
        ["products", "shop__products", 30],
      ]),
    );
    const page = await call("GET", "/api/sources/shop/tables/users/rows?limit=5&offset=10");
    expect(page.json).toMatchObject({ total: 300, limit: 5, offset: 10 });
    expect(page.json.rows).toHaveLength(5);
    expect(page.json.columns).toEqual(expect.arrayContaining(["id", "email", "_mako_synced_at", "_mako_deleted_at"]));
    expect((await call("GET", "/api/sources/shop/tables/users/rows?limit=0")).json.field).toBe("limit");
    expect((await call("GET", "/api/sources/shop/tables/nope/rows")).status).toBe(404);
  });

  it("syncs chosen entities, refuses unknown ones", async () => {
    const bad = await call("POST", "/api/sources/shop/sync", { entities: ["users", "invoices"] });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ field: "entities" });
    expect(bad.json.error).toContain('"invoices"');
    expect((await call("POST", "/api/sources/shop/sync", { fullRefresh: "yes" })).json.field).toBe("fullRefresh");

    const { json } = await call("POST", "/api/sources/shop/sync", { entities: ["products"], fullRefresh: true });
    const end = (await waitForRun(json.runId)).at(-1)!;
    expect(end.data).toMatchObject({ status: "succeeded", fullRefresh: true });
    expect(end.data.entities.map((e: any) => e.entity)).toEqual(["products"]);
  });

  it("a failed run keeps each entity's retries: the history shows what the live view counted", async () => {
    // A Stripe-shaped API that is down: every request answers 503, retried twice by the client.
    const down = createHttpServer((_req, res) => {
      res.writeHead(503, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { type: "api_error", message: "down for maintenance" } }));
    });
    await new Promise<void>((ok) => down.listen(0, "127.0.0.1", ok));
    try {
      const base_url = `http://127.0.0.1:${(down.address() as AddressInfo).port}`;
      await call("POST", "/api/sources", { name: "down", connector: "stripe", config: { api_key: "sk_test_down", base_url }, settings: { maxRetries: 2 } });
      const { json } = await call("POST", "/api/sources/down/sync", { entities: ["customers", "balance_transactions"] });
      const events = await waitForRun(json.runId);
      const end = events.at(-1)!;
      expect(end.data.status).toBe("failed");
      for (const entity of ["customers", "balance_transactions"]) {
        const live = events.findLast((e) => e.event === "progress" && e.data.entity === entity)!.data;
        expect(live.retries, entity).toBe(2);
        expect(end.data.entities.find((e: any) => e.entity === entity)).toMatchObject({ status: "failed", retries: 2 });
      }
      const stored = await call("GET", `/api/runs/${json.runId}`);
      expect(stored.json.entities.map((e: any) => [e.entity, e.retries])).toEqual([
        ["customers", 2],
        ["balance_transactions", 2],
      ]);
      expect(stored.json.stats.retries).toBe(4);
    } finally {
      down.close();
      await call("DELETE", "/api/sources/down?data=drop");
    }
  });

  it("cancels a running sync at a chunk boundary; a finished run cannot be cancelled", async () => {
    await call("POST", "/api/sources", { name: "slow", connector: "sample", ...SLOW });
    const { json } = await call("POST", "/api/sources/slow/sync", {});
    const events = fetch(`${server.url}/api/runs/${json.runId}/events`).then(readSse);
    await new Promise((r) => setTimeout(r, 150));
    const cancel = await call("POST", `/api/runs/${json.runId}/cancel`);
    expect(cancel.status).toBe(202);
    const end = (await events).at(-1)!;
    expect(end).toMatchObject({ event: "end", data: { status: "cancelled" } });
    // Stopped at a chunk boundary: what was committed is whole chunks (2 pages of 10).
    expect(end.data.records % 20).toBe(0);
    expect(end.data.records).toBeLessThan(630);

    const again = await call("POST", `/api/runs/${json.runId}/cancel`);
    expect(again.status).toBe(409);
    expect(again.json.error).toMatch(/not running/);

    // The checkpoint was kept: the next sync resumes and completes.
    const next = await call("POST", "/api/sources/slow/sync", {});
    const resumed = (await waitForRun(next.json.runId)).at(-1)!.data;
    expect(resumed.status).toBe("succeeded");
    expect(resumed.entities[0].resumed).toBe(true);
  });
});

describe("runs started elsewhere", () => {
  it("streams a run the server did not start (the CLI's) from the store until it ends", async () => {
    // A second facade on the same home plays the CLI: the server's facade did not start this run.
    const cli = await Mako.open({ home: mako.home });
    try {
      await cli.sources.add({ name: "cli_made", connector: "sample", ...SLOW });
      const { runId, done } = await cli.sync("cli_made");
      const events = waitForRun(runId);
      await done;
      const seen = await events;
      expect(seen.at(-1)).toMatchObject({ event: "end", data: { id: runId, status: "succeeded", records: 630 } });
      expect(seen.filter((e) => e.event === "progress").length).toBeGreaterThanOrEqual(3);
    } finally {
      await cli.close();
    }
  });
});

describe("runs of another process", () => {
  it("cancels them through the store: the run stops at a chunk boundary, its checkpoint kept", async () => {
    // A second facade on the same home plays the CLI: the server's facade did not start this run.
    const cli = await Mako.open({ home: mako.home });
    try {
      await cli.sources.add({ name: "cli_cancelled", connector: "sample", ...SLOW });
      const { runId, done } = await cli.sync("cli_cancelled");
      const events = waitForRun(runId);
      await new Promise((r) => setTimeout(r, 150));
      const cancel = await call("POST", `/api/runs/${runId}/cancel`);
      expect(cancel.status).toBe(202);
      const result = await done;
      expect(result.status).toBe("cancelled");
      expect(result.entities[0].error).toBe("cancelled; the checkpoint is kept");
      expect((await events).at(-1)).toMatchObject({ event: "end", data: { id: runId, status: "cancelled" } });
      expect(result.entities[0].records).toBeLessThan(630);
      const again = await call("POST", `/api/runs/${runId}/cancel`);
      expect(again.status).toBe(409);
    } finally {
      await cli.close();
    }
  });
});

describe("web UI files", () => {
  it("serves the built UI with an SPA fallback, and nothing outside it", async () => {
    const index = await call("GET", "/");
    expect(index.status).toBe(200);
    expect(index.text).toContain("Mako UI");
    expect((await call("GET", "/sources/shop")).text).toContain("Mako UI");
    const asset = await fetch(`${server.url}/assets/app.js`);
    expect(asset.headers.get("content-type")).toMatch(/javascript/);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    const escape = await call("GET", "/..%2Foutside.txt");
    expect(escape.text).not.toContain("not for the web");
  });
});

describe("API token", () => {
  let http: ServerType;
  let url: string;
  let close: () => void;

  beforeAll(async () => {
    const guarded = createServer(mako, { token: "s3cret-token", uiDir });
    close = guarded.close;
    http = await new Promise((resolve) => {
      const s = serve({ fetch: guarded.app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    close();
    http.close();
  });

  it("guards every API route but icons; the UI's files stay public", async () => {
    for (const path of ["/api/sources", "/api/connectors", "/api/runs", "/api/sources/shop/tables"]) {
      const res = await fetch(url + path);
      expect(res.status, path).toBe(401);
      expect((await res.json()).error).toMatch(/token/);
    }
    expect((await fetch(`${url}/api/sources`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).status).toBe(401);
    expect((await fetch(`${url}/api/sources`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const ok = await fetch(`${url}/api/sources`, { headers: { authorization: "Bearer s3cret-token" } });
    expect(ok.status).toBe(200);
    expect((await fetch(`${url}/`)).status).toBe(200);
    expect((await fetch(`${url}/api/connectors/sample/icon.svg`)).status).toBe(200);
  });

  it("takes MAKO_API_TOKEN, else generates one once and stores it privately", () => {
    expect(resolveApiToken(join(home, "t1"), { MAKO_API_TOKEN: "from-env" })).toEqual({ token: "from-env", created: false });
    const first = resolveApiToken(join(home, "t2"), {});
    expect(first.created).toBe(true);
    expect(first.token.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(home, "t2", "api-token")).mode & 0o777).toBe(0o600);
    expect(resolveApiToken(join(home, "t2"), {})).toEqual({ token: first.token, created: false });
  });

  it("startServer needs no token on loopback", () => {
    expect(server.host).toBe("127.0.0.1");
    expect(server.token).toBeUndefined();
  });
});
