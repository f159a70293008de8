import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mako } from "../../src/Mako";
import { startServer, type StartedServer } from "../../src/server";
import { readSse } from "../server/sse";

// Finding 1 (any web page can drive the loopback API) and 11 (a malformed URL crashed a
// route): each attack is made with the headers a browser sends, and nothing may change.

const CHROMIUM = "/usr/bin/chromium";
let home: string;
let mako: Mako;
let server: StartedServer;
let port: number;

/** A raw request, so Host and Origin are exactly what an attacker's browser would send. */
function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { ...headers, ...(body !== undefined ? { "content-length": String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const sourceNames = async () => (await mako.sources.list()).map((s) => s.name);
const runCount = async () => (await mako.runs.list({ limit: 500 })).length;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "mako-owner-"));
  const uiDir = join(home, "ui");
  mkdirSync(uiDir);
  writeFileSync(join(uiDir, "index.html"), "<!doctype html><title>Mako UI</title>");
  mako = await Mako.open({ home: join(home, "mako") });
  await mako.sources.add({ name: "shop", connector: "sample", config: { count: 20 } });
  server = await startServer({ mako, port: 0, uiDir, allowedHosts: ["mako.internal.example"], log: () => {} });
  port = server.port;
});

afterAll(async () => {
  await server?.close();
  await mako?.close();
  rmSync(home, { recursive: true, force: true });
});

describe("a web page in the same browser cannot drive the API", () => {
  const evil = { origin: "http://evil.example", "sec-fetch-site": "cross-site" };

  it("refuses a cross-site text/plain POST /api/sources (no preflight needed): nothing is added", async () => {
    const body = JSON.stringify({ name: "evil", connector: "sample", config: { count: 1 } });
    const res = await raw("POST", "/api/sources", { host: `127.0.0.1:${port}`, "content-type": "text/plain;charset=UTF-8", ...evil }, body);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).error).toMatch(/evil\.example/);
    // Without an Origin (not a browser), text/plain is still no JSON body: 415.
    const noOrigin = await raw("POST", "/api/sources", { host: `127.0.0.1:${port}`, "content-type": "text/plain" }, body);
    expect(noOrigin.status).toBe(415);
    expect(await sourceNames()).toEqual(["shop"]);
  });

  it("refuses an empty form POST to /sync: no run starts", async () => {
    const before = await runCount();
    const res = await raw("POST", "/api/sources/shop/sync", { host: `127.0.0.1:${port}`, "content-type": "application/x-www-form-urlencoded", ...evil }, "");
    expect(res.status).toBe(403);
    const noOrigin = await raw("POST", "/api/sources/shop/sync", { host: `127.0.0.1:${port}`, "content-type": "application/x-www-form-urlencoded" }, "");
    expect(noOrigin.status).toBe(415);
    // Another origin may not change anything even with a JSON body (that needs a preflight,
    // which gets no CORS answer; a same-site page on another port is another origin too).
    for (const origin of ["http://evil.example", `http://localhost:${port + 1}`, "null"]) {
      const json = await raw("POST", "/api/sources/shop/sync", { host: `127.0.0.1:${port}`, "content-type": "application/json", origin }, "{}");
      expect(json.status, origin).toBe(403);
    }
    expect(await runCount()).toBe(before);
  });

  it("refuses DNS rebinding: a Host it does not serve gets 403 on the API and the UI", async () => {
    for (const path of ["/api/sources", "/api/runs", "/"]) {
      const res = await raw("GET", path, { host: `attacker.example:${port}` });
      expect(res.status, path).toBe(403);
      expect(res.text).not.toContain("shop");
      expect(JSON.parse(res.text).error).toMatch(/attacker\.example.*--allowed-host/);
    }
    const rebound = await raw("DELETE", "/api/sources/shop?data=drop", { host: `attacker.example:${port}`, origin: `http://attacker.example:${port}` });
    expect(rebound.status).toBe(403);
    expect(await sourceNames()).toEqual(["shop"]);
    // A malformed Host is no host it serves either (Node's parser may refuse it first).
    expect([400, 403]).toContain((await raw("GET", "/api/sources", { host: "127.0.0.1:80:80" })).status);
    expect((await raw("GET", "/api/sources", { host: "127.0.0.1.evil.example" })).status).toBe(403);
  });

  it("serves loopback names, the bound address and --allowed-host names", async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, "mako.internal.example", `MAKO.internal.example.:${port}`]) {
      const res = await raw("GET", "/api/sources", { host });
      expect(res.status, host).toBe(200);
    }
  });

  it("keeps working for its own UI: same-origin JSON requests, body-less POSTs, and the SSE stream", async () => {
    const own = { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}`, "sec-fetch-site": "same-origin" };
    const added = await raw("POST", "/api/sources", { ...own, "content-type": "application/json" }, JSON.stringify({ name: "mine", connector: "sample", config: { count: 5 } }));
    expect(added.status).toBe(201);
    const tested = await raw("POST", "/api/sources/mine/test", own);
    expect(JSON.parse(tested.text)).toMatchObject({ success: true });
    const started = await raw("POST", "/api/sources/mine/sync", { ...own, "content-type": "application/json" }, "{}");
    expect(started.status).toBe(202);
    const events = await readSse(await fetch(`${server.url}/api/runs/${JSON.parse(started.text).runId}/events`));
    expect(events.at(-1)).toMatchObject({ event: "end", data: { status: "succeeded" } });
    const removed = await raw("DELETE", "/api/sources/mine?data=drop", own);
    expect(removed.status).toBe(200);
  });

  it("with a real browser: a page on another origin posts text/plain and submits a form; nothing changes", async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: this test needs Debian's chromium`);
    const runsBefore = await runCount();
    const makoUrl = `http://127.0.0.1:${port}`;
    const page = `<!doctype html><form id="f" method="POST" action="${makoUrl}/api/sources/shop/sync" target="sink"></form>
      <iframe name="sink"></iframe>
      <script>
        window.attack = async () => {
          await fetch("${makoUrl}/api/sources", { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" },
            body: JSON.stringify({ name: "evil", connector: "sample", config: { count: 1 } }) });
          await fetch("${makoUrl}/api/sources/shop/sync", { method: "POST", mode: "no-cors" });
          document.getElementById("f").submit();
        };
      </script>`;
    const attacker: Server = createHttpServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end(page));
    await new Promise<void>((resolve) => attacker.listen(0, "127.0.0.1", resolve));
    // localhost and 127.0.0.1 are different origins: the attacker's page is cross-origin to Mako.
    const attackerUrl = `http://localhost:${(attacker.address() as AddressInfo).port}/`;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
    try {
      const tab = await browser.newPage();
      const makoResponses: number[] = [];
      tab.on("response", (r) => {
        if (r.url().startsWith(makoUrl)) makoResponses.push(r.status());
      });
      await tab.goto(attackerUrl);
      const submitted = tab.waitForResponse((r) => r.url().endsWith("/api/sources/shop/sync"));
      await tab.evaluate(() => (window as unknown as { attack(): Promise<void> }).attack());
      expect((await submitted).status()).toBe(403);
      expect(makoResponses.length).toBeGreaterThanOrEqual(1);
      expect(makoResponses.every((s) => s === 403), JSON.stringify(makoResponses)).toBe(true);
    } finally {
      await browser.close();
      attacker.close();
    }
    expect(await sourceNames()).toEqual(["shop"]);
    expect(await runCount()).toBe(runsBefore);
  });
});

describe("malformed requests are the client's fault", () => {
  it("GET /%E0%A4%A is a 400 with a JSON error and no stack trace, on the UI and the API", async () => {
    const logged: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      for (const path of ["/%E0%A4%A", "/sources/%E0%A4%A", "/api/sources/%E0%A4%A"]) {
        const res = await raw("GET", path, { host: `127.0.0.1:${port}` });
        expect(res.status, path).toBeGreaterThanOrEqual(400);
        expect(res.status, path).toBeLessThan(500);
        expect(res.text).not.toMatch(/at .*\.ts:\d+|URIError/);
      }
      expect((await raw("GET", "/%E0%A4%A", { host: `127.0.0.1:${port}` })).status).toBe(400);
    } finally {
      console.error = original;
    }
    expect(logged).toEqual([]);
  });

  it("a body over the limit gets 413 before it is read; one under it still works", async () => {
    const big = JSON.stringify({ name: "big", connector: "sample", config: { count: 1 }, pad: "x".repeat(1024 * 1024) });
    const res = await raw("POST", "/api/sources", { host: `127.0.0.1:${port}`, "content-type": "application/json" }, big);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.text).error).toMatch(/1048576 bytes/);
    expect(await sourceNames()).not.toContain("big");
  });
});
