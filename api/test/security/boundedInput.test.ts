import Database from "better-sqlite3";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mako } from "../../src/Mako";
import { startServer, type StartedServer } from "../../src/server";
import { runMako } from "./cli";

// Finding 4 (a deeply nested config was stored, then broke every listing), finding 5's
// endless source response, and finding 9's record nesting: refused with one line, before
// anything is stored, whatever the depth or size.

let home: string;
let mako: Mako;
let server: StartedServer;

/** `{"a":{"a":…}}` `depth` levels deep, built as text (no recursion needed to make it). */
const nested = (depth: number, leaf = "1") => `${'{"a":'.repeat(depth)}${leaf}${"}".repeat(depth)}`;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "mako-bounded-"));
  mako = await Mako.open({ home: join(home, "mako") });
  server = await startServer({ mako, port: 0, uiDir: false, log: () => {} });
});

afterAll(async () => {
  await server?.close();
  await mako?.close();
  rmSync(home, { recursive: true, force: true });
});

async function post(path: string, body: string) {
  const res = await fetch(server.url + path, { method: "POST", headers: { "content-type": "application/json" }, body });
  return { status: res.status, json: await res.json() };
}

describe("configs are checked for depth before they are stored", () => {
  const restSource = (name: string, body: string) =>
    `{"name":"${name}","connector":"rest","config":{"base_url":"http://127.0.0.1:1","entities":[{"name":"x","method":"POST","body":${body}}]}}`;

  it("POST /api/sources with a 2000-level entities[0].body: 400 naming the field, nothing stored, listing still works", async () => {
    const res = await post("/api/sources", restSource("deep", nested(2000)));
    expect(res.status).toBe(400);
    expect(res.json.error).toBe("the request body nests deeper than 64 levels");
    // Under the body's limit but past the config's: the error names the field.
    const mid = await post("/api/sources", restSource("deep", nested(40)));
    expect(mid.status).toBe(400);
    expect(mid.json.field).toMatch(/^config\.entities\[0\]\.body(\.a)+$/);
    expect(mid.json.error).toMatch(/nests deeper than 32 levels$/);
    // 150,000 levels fit in the 1 MB body limit: refused as fast, nothing overflows.
    expect((await post("/api/sources", restSource("deep", nested(150_000)))).status).toBe(400);
    const list = await fetch(`${server.url}/api/sources`);
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual([]);
    // A config just within the limit is fine.
    expect((await post("/api/sources", restSource("fine", nested(25)))).status).toBe(201);
  });

  it("mako sources add with a deep --config-file: one line, nothing stored", async () => {
    const cliHome = join(home, "cli");
    const file = join(home, "deep.json");
    writeFileSync(file, `{"base_url":"http://127.0.0.1:1","entities":[{"name":"x","method":"POST","body":${nested(5000)}}]}`);
    const r = await runMako(cliHome, ["sources", "add", "deep", "--connector", "rest", "--config-file", file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr.trimEnd()).toMatch(/^error: invalid config for connector "rest": entities\[0\]\.body(\.a)+: nests deeper than 32 levels$/);
    const listed = await runMako(cliHome, ["sources", "list"]);
    expect(listed).toMatchObject({ code: 0, stdout: expect.stringMatching(/^no sources yet/) });
  }, 120_000);

  it("a deep config stored before the limit existed still lists (redaction does not recurse)", async () => {
    const config = JSON.parse(`{"base_url":"http://127.0.0.1:1","auth":{"type":"bearer","token":"legacy-token-1111"},"entities":[{"name":"x","method":"POST","body":${nested(3000)}}]}`);
    await mako.store.addSource({ name: "legacy", connector: "rest", config, settings: {}, destination: null });
    const listed = await mako.sources.list();
    expect(listed.find((s) => s.name === "legacy")!.config.auth).toEqual({ type: "bearer", token: "********" });
    const res = await fetch(`${server.url}/api/sources/legacy`);
    expect(res.status).toBe(200);
    const view = await res.json();
    expect(view.secrets).toEqual({ "auth.token": "set" });
    expect(JSON.stringify(view)).not.toContain("legacy-token-1111");
    await mako.sources.remove("legacy", { data: "drop" });
  });
});

describe("what a source sends is bounded", () => {
  let api: Server;
  let apiUrl: string;
  let written = 0;

  beforeAll(async () => {
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    api = createServer((req, res) => {
      const url = new URL(req.url!, "http://x");
      const page = Number(url.searchParams.get("page") ?? 1);
      if (url.pathname === "/endless" && page >= 2) {
        // An endless body: counts what it managed to write until the client stops reading.
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"data":[');
        const pump = () => {
          while (!res.destroyed) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once("drain", pump);
          }
        };
        res.on("close", () => void 0);
        return pump();
      }
      if (url.pathname === "/deep") {
        const depth = Number(url.searchParams.get("depth"));
        return void res.writeHead(200, { "content-type": "application/json" }).end(`{"data":[{"id":1,"payload":${nested(depth)}}]}`);
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data: [{ id: page }], next: `/endless?page=${page + 1}` }));
    });
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
    apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((r) => api.close(() => r())));

  it("a response over settings.maxResponseBytes ends the entity with one line naming the URL and the limit; the checkpoint stays", async () => {
    await mako.sources.add({
      name: "endless",
      connector: "rest",
      config: { base_url: apiUrl, records_path: "data", paginator: { type: "next_url", next_url_path: "next" }, entities: [{ name: "endless" }] },
      settings: { maxResponseBytes: 1_000_000, maxIterations: 1, maxRetries: 0, requestTimeoutMs: 120_000 },
    });
    const started = Date.now();
    const result = await (await mako.sync("endless")).done;
    const entity = result.entities[0];
    expect(entity).toMatchObject({ status: "failed", records: 1 });
    expect(entity.error).toBe(
      `GET ${apiUrl}/endless?page=2: the response is larger than settings.maxResponseBytes (1000000 bytes); reading stopped there, and the entity stops with its checkpoint intact`,
    );
    // Stopped by the cap, not by the timeout, and without draining the stream.
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(written).toBeLessThan(64 * 1024 * 1024);
    const db = new Database(join(home, "mako", "mako.db"), { readonly: true });
    const state = db.prepare(`SELECT checkpoint FROM _mako_state WHERE namespace = 'endless'`).get() as { checkpoint: string };
    db.close();
    expect(JSON.parse(state.checkpoint).fetchState.metadata.position.page).toEqual({ kind: "url", url: `${apiUrl}/endless?page=2` });
  });

  it("a record nested past settings.maxNestingDepth ends the entity with one line naming entity, field and limit", async () => {
    await mako.sources.add({
      name: "nesty",
      connector: "rest",
      config: {
        base_url: apiUrl,
        records_path: "data",
        entities: [
          { name: "huge", path: "/deep", params: { depth: 5000 } },
          { name: "deep", path: "/deep", params: { depth: 100 } },
          { name: "ok", path: "/deep", params: { depth: 64 } },
        ],
      },
    });
    const result = await (await mako.sync("nesty")).done;
    const [huge, deep, ok] = result.entities;
    expect(huge.status).toBe("failed");
    expect(huge.error).toMatch(/^entity "huge": record 1 of chunk 1: field "payload" nests deeper than 64 levels \(at payload(\.a){63}\.a\); raise settings\.maxNestingDepth \(at most 1000\) to accept it$/);
    expect(deep.error).toMatch(/^entity "deep": .*deeper than 64 levels/);
    expect(ok).toMatchObject({ status: "succeeded", records: 1 });
    // Raised, the 100-level record is accepted and stored whole; 5000 levels stay refused.
    await mako.sources.update("nesty", { settings: { maxNestingDepth: 1000 } });
    const { entities } = await (await mako.sync("nesty", { entities: ["huge", "deep"] })).done;
    expect(entities.map((e) => [e.entity, e.status])).toEqual([["huge", "failed"], ["deep", "succeeded"]]);
    expect(entities[0].error).toMatch(/nests deeper than 1000 levels/);
    const stored = await mako.defaultDestination.readRows({ namespace: "nesty", entity: "deep" }, { limit: 1, offset: 0 });
    const payload = stored[0].payload;
    expect(typeof payload === "string" ? payload : JSON.stringify(payload)).toBe(nested(100));
    await expect(mako.sources.update("nesty", { settings: { maxNestingDepth: 5000 } })).rejects.toThrow(/settings\.maxNestingDepth|maxNestingDepth/);
  });
});
