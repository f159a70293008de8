import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mako } from "../../src/Mako";
import { InProcessLauncher, Scheduler } from "../../src/schedules";
import { startServer, type StartedServer } from "../../src/server";

let home: string;
let mako: Mako;
let server: StartedServer;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(server.url + path, {
    method,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "mako-schedapi-"));
  mako = await Mako.open({ home });
  server = await startServer({ mako, port: 0, uiDir: false, log: () => {} });
  await mako.sources.add({ name: "shop", connector: "sample", config: { count: 4 }, entities: ["users"] });
});

afterAll(async () => {
  await server?.close();
  await mako?.close();
  rmSync(home, { recursive: true, force: true });
});

describe("a source's schedule over the API", () => {
  it("GET is null until set; PUT sets it with its next three fire times; pause, resume, DELETE", async () => {
    expect(await call("GET", "/api/sources/shop/schedule")).toEqual({ status: 200, json: null });

    const put = await call("PUT", "/api/sources/shop/schedule", { cron: "30 2 * * *", timezone: "Europe/Paris" });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ source: "shop", cron: "30 2 * * *", timezone: "Europe/Paris", misfire: "coalesce", paused: false, pending: false, coalesced: 0, skipped: 0 });
    expect(put.json.nextFireTimes).toHaveLength(3);
    expect(put.json.nextFireTimes[0]).toBe(put.json.nextFireAt);
    for (const t of put.json.nextFireTimes) expect(t).toMatch(/T0[01]:30:00\.000Z$/);
    const days = put.json.nextFireTimes.map((t: string) => Date.parse(t));
    expect(days[1] - days[0]).toBeGreaterThanOrEqual(23 * 3_600_000);

    expect((await call("GET", "/api/sources/shop/schedule")).json).toEqual(put.json);

    const paused = await call("POST", "/api/sources/shop/schedule/pause");
    expect(paused.json).toMatchObject({ paused: true, nextFireTimes: [] });
    const resumed = await call("POST", "/api/sources/shop/schedule/resume");
    expect(resumed.json).toMatchObject({ paused: false });
    expect(resumed.json.nextFireTimes).toHaveLength(3);

    // No zone given: this server's.
    const local = await call("PUT", "/api/sources/shop/schedule", { cron: "0 * * * *", misfire: "skip" });
    expect(local.json).toMatchObject({ timezone: Intl.DateTimeFormat().resolvedOptions().timeZone, misfire: "skip" });

    expect(await call("DELETE", "/api/sources/shop/schedule")).toEqual({ status: 200, json: { removed: "shop" } });
    expect((await call("GET", "/api/sources/shop/schedule")).json).toBeNull();
  });

  it("refuses bad input with a 400 naming the field, unknown sources and absent schedules with a 404", async () => {
    const cases: [unknown, string, RegExp][] = [
      [{ cron: "61 * * * *" }, "cron", /^invalid cron "61 \* \* \* \*": minute "61": out of range \(0-59\)$/],
      [{ cron: "0 0 * 13 *" }, "cron", /month "13": out of range/],
      [{ cron: "0 0 * * * *" }, "cron", /it has 6 fields/],
      [{ cron: "0 * * * *", timezone: "Mars/Olympus" }, "timezone", /^invalid time zone "Mars\/Olympus"/],
      [{ cron: "0 * * * *", misfire: "later" }, "misfire", /^invalid misfire "later": use coalesce or skip$/],
      [{ cron: "0 * * * *", every: "day" }, "every", /unknown field "every"/],
      [{}, "cron", /^invalid schedule: cron: /],
      [{ cron: "1,".repeat(120) }, "cron", /^invalid schedule: cron: /],
      [{ cron: 5 }, "cron", /^invalid schedule: cron: /],
    ];
    for (const [body, field, message] of cases) {
      const r = await call("PUT", "/api/sources/shop/schedule", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.field, JSON.stringify(body)).toBe(field);
      expect(r.json.error, JSON.stringify(body)).toMatch(message);
    }
    expect((await call("PUT", "/api/sources/shop/schedule", "{not json")).status).toBe(400);
    expect(await call("GET", "/api/sources/shop/schedule")).toEqual({ status: 200, json: null });

    const unknown = await call("PUT", "/api/sources/nope/schedule", { cron: "0 * * * *" });
    expect(unknown).toEqual({ status: 404, json: { error: `no source named "nope" (see: npx mako sources list)` } });
    expect((await call("GET", "/api/sources/nope/schedule")).status).toBe(404);
    for (const [method, path] of [
      ["DELETE", "/api/sources/shop/schedule"],
      ["POST", "/api/sources/shop/schedule/pause"],
      ["POST", "/api/sources/shop/schedule/resume"],
    ]) {
      const r = await call(method, path);
      expect(r.status).toBe(404);
      expect(r.json.error).toMatch(/^source "shop" has no schedule/);
    }
  });

  it("a page on another origin cannot set or remove a schedule", async () => {
    const evil = { origin: "http://evil.example" };
    expect((await call("PUT", "/api/sources/shop/schedule", { cron: "* * * * *" }, evil)).status).toBe(403);
    expect((await call("PUT", "/api/sources/shop/schedule", JSON.stringify({ cron: "* * * * *" }), { "content-type": "text/plain" })).status).toBe(415);
    expect((await call("GET", "/api/sources/shop/schedule")).json).toBeNull();
  });

  it("runs started by a schedule say so in the runs API; manual ones too", async () => {
    await call("PUT", "/api/sources/shop/schedule", { cron: "0 0 1 1 *", timezone: "UTC" });
    const db = mako.embedded!.db;
    db.prepare(`UPDATE mako_schedules SET next_fire_at = ? WHERE source = 'shop'`).run(new Date(Date.now() - 1000).toISOString());
    const [report] = await new Scheduler(mako.store.schedules, new InProcessLauncher(mako)).tick();
    const runId = (report.outcome as { runId: string }).runId;
    let run = (await call("GET", `/api/runs/${runId}`)).json;
    for (let i = 0; run.status === "running" && i < 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      run = (await call("GET", `/api/runs/${runId}`)).json;
    }
    expect(run).toMatchObject({ id: runId, status: "succeeded", trigger: "schedule", records: 4 });
    const manual = (await call("POST", "/api/sources/shop/sync", {})).json.runId;
    const list = (await call("GET", "/api/runs?source=shop")).json;
    expect(list.find((r: { id: string }) => r.id === runId).trigger).toBe("schedule");
    expect(list.find((r: { id: string }) => r.id === manual).trigger).toBe("manual");
    expect((await call("GET", "/api/sources/shop/schedule")).json).toMatchObject({ lastRunId: runId });
    while ((await call("GET", `/api/runs/${manual}`)).json.status === "running") await new Promise((r) => setTimeout(r, 50));
  });
});
