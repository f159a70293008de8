// Finding 7: a name's second life must not inherit the first. Removing a source is refused
// while it syncs (CLI and API alike) and asks what to do with its data; adding a name whose
// tables or checkpoints exist says so, and continues from them (--adopt-data) or deletes them
// first (--drop-data) only when told.
import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mako } from "../../src/Mako";
import { startServer, type StartedServer } from "../../src/server";
import { runMako, startMako } from "./cli";
import { PG_URL, sqliteTables } from "./destinationKit";

const dirs: string[] = [];
const tempHome = (label: string) => {
  const dir = mkdtempSync(join(tmpdir(), `mako-${label}-`));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const oneLine = (text: string) => text.trimEnd().split("\n");

/** Whether the home's metadata records a live run of the source. */
function running(home: string, source: string): boolean {
  const db = new Database(join(home, "mako.db"), { readonly: true });
  try {
    return db.prepare(`SELECT 1 FROM mako_runs WHERE source = ? AND status = 'running'`).get(source) !== undefined;
  } finally {
    db.close();
  }
}

/** Rows of a table in the home's mako.db, read with a connection of the test's own. */
function countRows(home: string, table: string): number | null {
  const db = new Database(join(home, "mako.db"), { readonly: true });
  try {
    if (!sqliteTables(db).includes(table)) return null;
    return (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

function checkpoints(home: string, namespace: string): string[] {
  const db = new Database(join(home, "mako.db"), { readonly: true });
  try {
    return db.prepare(`SELECT entity FROM _mako_state WHERE namespace = ? ORDER BY entity`).pluck().all(namespace) as string[];
  } finally {
    db.close();
  }
}

describe("mako sources remove / add: finding 7's story on the CLI", () => {
  const home = tempHome("removed");
  const big = '{"count": 300}';
  const fresh = '{"count": 50, "seed": 7}';

  it("remove asks what to do with the data; --keep-data keeps it; add then refuses, naming what exists", async () => {
    expect((await runMako(home, ["sources", "add", "big2", "--connector", "sample", "--config-json", big, "--entity", "users"])).code).toBe(0);
    expect((await runMako(home, ["sync", "big2"])).code).toBe(0);
    expect(countRows(home, "big2__users")).toBe(300);

    const ask = await runMako(home, ["sources", "remove", "big2"]);
    expect(ask.code).not.toBe(0);
    expect(oneLine(ask.stderr)).toHaveLength(1);
    expect(ask.stderr).toMatch(/--drop-data.*--keep-data|--keep-data.*--drop-data/);
    expect((await runMako(home, ["sources", "list"])).stdout).toContain("big2");

    const both = await runMako(home, ["sources", "remove", "big2", "--drop-data", "--keep-data"]);
    expect(both.code).not.toBe(0);

    const kept = await runMako(home, ["sources", "remove", "big2", "--keep-data"]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toMatch(/kept/);
    expect(countRows(home, "big2__users")).toBe(300);

    const refused = await runMako(home, ["sources", "add", "big2", "--connector", "sample", "--config-json", fresh, "--entity", "users"]);
    expect(refused.code).not.toBe(0);
    expect(oneLine(refused.stderr)).toHaveLength(1);
    expect(refused.stderr).toContain("big2__users");
    expect(refused.stderr).toMatch(/checkpoint/);
    expect(refused.stderr).toContain("--adopt-data");
    expect(refused.stderr).toContain("--drop-data");
    expect((await runMako(home, ["sources", "list"])).stdout).not.toContain("big2");
  }, 180_000);

  it("--adopt-data continues from the old mark; --drop-data starts clean", async () => {
    const adopted = await runMako(home, ["sources", "add", "big2", "--connector", "sample", "--config-json", fresh, "--entity", "users", "--adopt-data"]);
    expect(adopted.code, adopted.stderr).toBe(0);
    const resumed = await runMako(home, ["sync", "big2"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout + resumed.stderr).toMatch(/since/);
    expect(countRows(home, "big2__users")).toBe(300);

    expect((await runMako(home, ["sources", "remove", "big2", "--keep-data"])).code).toBe(0);
    const dropped = await runMako(home, ["sources", "add", "big2", "--connector", "sample", "--config-json", fresh, "--entity", "users", "--drop-data"]);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(countRows(home, "big2__users")).toBeNull();
    expect(checkpoints(home, "big2")).toEqual([]);
    const clean = await runMako(home, ["sync", "big2"]);
    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout + clean.stderr).not.toMatch(/since 20/);
    expect(countRows(home, "big2__users")).toBe(50);

    const removed = await runMako(home, ["sources", "remove", "big2", "--drop-data"]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(countRows(home, "big2__users")).toBeNull();
    expect(checkpoints(home, "big2")).toEqual([]);
    // Nothing left: the name is free again.
    expect((await runMako(home, ["sources", "add", "big2", "--connector", "sample", "--config-json", fresh])).code).toBe(0);
  }, 180_000);

  it("remove is refused while the source syncs (another process's run), and nothing is removed", async () => {
    const slowHome = tempHome("syncing");
    expect((await runMako(slowHome, ["sources", "add", "slow", "--connector", "sample", "--config-json", '{"count": 100000, "page_delay_ms": 200}', "--settings-json", '{"batchSize": 10, "maxIterations": 1}'])).code).toBe(0);
    const sync = startMako(slowHome, ["sync", "slow"]);
    try {
      const deadline = Date.now() + 60_000;
      while (!running(slowHome, "slow") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(running(slowHome, "slow"), sync.output()).toBe(true);
      for (const choice of ["--drop-data", "--keep-data"]) {
        const refused = await runMako(slowHome, ["sources", "remove", "slow", choice]);
        expect(refused.code).not.toBe(0);
        expect(oneLine(refused.stderr)).toHaveLength(1);
        expect(refused.stderr).toMatch(/"slow" is syncing \(run run_[a-z0-9_]+\)/);
      }
      expect((await runMako(slowHome, ["sources", "list"])).stdout).toContain("slow");
    } finally {
      sync.child.kill("SIGKILL");
      await new Promise((r) => sync.child.once("exit", r));
    }
    // Its process gone, the source can go; the interrupted pass it left is resumed only when asked.
    expect((await runMako(slowHome, ["sources", "remove", "slow", "--keep-data"])).code).toBe(0);
    expect(checkpoints(slowHome, "slow")).toContain("users");
    const again = ["sources", "add", "slow", "--connector", "sample", "--config-json", '{"count": 20}', "--entity", "users"];
    const refused = await runMako(slowHome, again);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/checkpoints of users/);
    expect((await runMako(slowHome, [...again, "--adopt-data"])).code).toBe(0);
    const resumed = await runMako(slowHome, ["sync", "slow"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout + resumed.stderr).toMatch(/users: .*\[resumed/);
  }, 180_000);
});

describe("--drop-data reaches every destination the source wrote to", () => {
  it("a source synced into the default database and a PostgreSQL destination: both lose its tables and checkpoints", async () => {
    const home = tempHome("multi");
    const name = `multi_${process.pid}`;
    const admin = new pg.Client(PG_URL);
    await admin.connect();
    try {
      expect((await runMako(home, ["destinations", "add", "wh", "--type", "postgres", "--url", PG_URL])).code).toBe(0);
      expect((await runMako(home, ["sources", "add", name, "--connector", "sample", "--config-json", '{"count": 20}', "--entity", "users"])).code).toBe(0);
      expect((await runMako(home, ["sync", name])).code).toBe(0);
      expect((await runMako(home, ["sync", name, "--destination", "wh"])).code).toBe(0);
      expect((await admin.query(`SELECT count(*)::int AS n FROM "${name}".users`)).rows[0].n).toBe(20);

      const removed = await runMako(home, ["sources", "remove", name, "--drop-data"]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(countRows(home, `${name}__users`)).toBeNull();
      expect(checkpoints(home, name)).toEqual([]);
      expect((await admin.query(`SELECT 1 FROM information_schema.schemata WHERE schema_name = $1`, [name])).rows).toEqual([]);
      expect((await admin.query(`SELECT entity FROM _mako.state WHERE namespace = $1 UNION ALL SELECT entity FROM _mako.tables WHERE namespace = $1`, [name])).rows).toEqual([]);
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      await admin.query(`DELETE FROM _mako.state WHERE namespace = $1`, [name]);
      await admin.query(`DELETE FROM _mako.tables WHERE namespace = $1`, [name]);
      await admin.query(`DELETE FROM _mako.columns WHERE namespace = $1`, [name]);
      await admin.end();
    }
  }, 180_000);
});

describe("the API: DELETE /api/sources/NAME?data=…, POST with data", () => {
  let home: string;
  let mako: Mako;
  let server: StartedServer;
  beforeAll(async () => {
    home = tempHome("api");
    mako = await Mako.open({ home });
    server = await startServer({ mako, port: 0, uiDir: false, log: () => {} });
  });
  afterAll(async () => {
    await server?.close();
    await mako?.close();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(server.url + path, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as { error?: string; field?: string } & Record<string, unknown> };
  };
  const source = { name: "shop", connector: "sample", config: { count: 30 }, entities: ["users"] };

  it("DELETE needs data=drop or data=keep; data=keep keeps the tables; POST of the name then answers 409 naming them", async () => {
    expect((await call("POST", "/api/sources", source)).status).toBe(201);
    expect((await (await mako.sync("shop")).done).status).toBe("succeeded");
    const ask = await call("DELETE", "/api/sources/shop");
    expect(ask.status).toBe(400);
    expect(ask.json.field).toBe("data");
    expect((await call("DELETE", "/api/sources/shop?data=maybe")).status).toBe(400);
    expect((await call("DELETE", "/api/sources/shop?data=keep")).status).toBe(200);
    expect(countRows(home, "shop__users")).toBe(30);

    const taken = await call("POST", "/api/sources", source);
    expect(taken.status).toBe(409);
    expect(taken.json.field).toBe("data");
    expect(taken.json.error).toContain("shop__users");
    expect((await call("GET", "/api/sources/shop")).status).toBe(404);

    const dropped = await call("POST", "/api/sources", { ...source, data: "drop" });
    expect(dropped.status).toBe(201);
    expect(countRows(home, "shop__users")).toBeNull();
  });

  it("POST with a destination that cannot be reached to look for leftovers: 400 naming it, nothing stored", async () => {
    await mako.destinations.add({ name: "down", kind: "postgres", url: "postgres://postgres@127.0.0.1:1/none" });
    const refused = await call("POST", "/api/sources", { ...source, name: "elsewhere", destination: "down" });
    expect(refused.status).toBe(400);
    expect(refused.json.field).toBe("destination");
    expect(refused.json.error).toMatch(/earlier source "elsewhere" left in destination "down"/);
    expect((await call("GET", "/api/sources/elsewhere")).status).toBe(404);
  });

  it("DELETE while the source syncs: 409, nothing removed; data=drop afterwards removes tables and checkpoints", async () => {
    await call("PATCH", "/api/sources/shop", { config: { count: 100000, page_delay_ms: 100 } });
    await mako.sources.update("shop", { settings: { batchSize: 10, maxIterations: 1 } });
    const { runId, done } = await mako.sync("shop");
    const busy = await call("DELETE", "/api/sources/shop?data=drop");
    expect(busy.status).toBe(409);
    expect(busy.json.error).toContain(runId);
    expect((await call("GET", "/api/sources/shop")).status).toBe(200);
    await mako.runs.cancel(runId);
    await done;
    expect(checkpoints(home, "shop")).toEqual(["users"]);
    expect((await call("DELETE", "/api/sources/shop?data=drop")).status).toBe(200);
    expect(countRows(home, "shop__users")).toBeNull();
    expect(checkpoints(home, "shop")).toEqual([]);
  });
});
