import Database from "better-sqlite3";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = join(repo, "api/bin/mako.js");
const homes: string[] = [];
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));
const newHome = () => {
  const home = mkdtempSync(join(tmpdir(), "mako-kill-"));
  homes.push(home);
  return home;
};

const COUNT = 50_000;
const ENTITIES = { users: COUNT, products: COUNT / 10, purchases: COUNT };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mako(home: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) =>
    execFile(process.execPath, [bin, ...args], { cwd: repo, env: { ...process.env, MAKO_HOME: home } }, (err, stdout, stderr) =>
      ok({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

async function addSource(home: string, config: object, settings: object) {
  const r = await mako(home, ["sources", "add", "big", "--connector", "sample", "--config-json", JSON.stringify(config), "--settings-json", JSON.stringify(settings)]);
  expect(r.code, r.stderr).toBe(0);
}

/** Records committed so far, by the checkpoints (0 before the first commit). */
function committed(db: Database.Database): number {
  try {
    return (db.prepare(`SELECT coalesce(sum(json_extract(checkpoint, '$.records')), 0) AS n FROM _mako_state`).get() as { n: number }).n;
  } catch {
    return 0; // the sync has not created its tables yet
  }
}

const dataColumns = (db: Database.Database, table: string, schema = "main") =>
  (db.prepare(`SELECT name FROM pragma_table_info(?, ?)`).all(table, schema) as { name: string }[])
    .map((c) => c.name)
    .filter((n) => n !== "_mako_synced_at" && n !== "_mako_version");

/** Rows of `table` in one database that the other lacks, comparing every column but _mako_synced_at and _mako_version (when a row was written and read). */
function differences(db: Database.Database, table: string, other: string): number {
  const cols = dataColumns(db, table).map((c) => `"${c}"`).join(", ");
  const q = (a: string, b: string) =>
    (db.prepare(`SELECT count(*) AS n FROM (SELECT ${cols} FROM ${a}."${table}" EXCEPT SELECT ${cols} FROM ${b}."${table}")`).get() as { n: number }).n;
  return q("main", other) + q(other, "main");
}

describe("kill -9 and resume", () => {
  it("SIGKILLed at random moments at least 5 times, resumed, the destination equals an uninterrupted run", async () => {
    const killedHome = newHome();
    const referenceHome = newHome();
    // Pages of 250 with 10 ms of simulated latency: the sync lasts a few seconds, so kills land mid-way.
    await addSource(killedHome, { count: COUNT, seed: 3, page_delay_ms: 10 }, { batchSize: 250, maxIterations: 2 });
    await addSource(referenceHome, { count: COUNT, seed: 3 }, {});
    const reference = mako(referenceHome, ["sync", "big"]);

    const db = new Database(join(killedHome, "mako.db"), { readonly: true });
    let kills = 0;
    try {
      for (let attempt = 0; kills < 5 && attempt < 12; attempt++) {
        const before = committed(db);
        const child = spawn(process.execPath, [bin, "sync", "big"], { cwd: repo, env: { ...process.env, MAKO_HOME: killedHome }, stdio: "ignore" });
        const exited = new Promise<number | null>((ok) => child.on("exit", (code) => ok(code)));
        let finished = false;
        void exited.then(() => (finished = true));
        // Wait for this attempt's first commit, then kill at a random moment within the next half second.
        while (!finished && committed(db) === before) await sleep(20);
        if (!finished) {
          await sleep(Math.random() * 500);
          child.kill("SIGKILL");
        }
        const code = await exited;
        if (code === 0) break; // finished before the kill landed
        kills++;
        // Exactly-once at every instant: each table holds what its checkpoint says, once.
        for (const [entity] of Object.entries(ENTITIES)) {
          const state = db.prepare(`SELECT checkpoint FROM _mako_state WHERE namespace = 'big' AND entity = ?`).get(entity) as
            | { checkpoint: string }
            | undefined;
          const rows = state ? (db.prepare(`SELECT count(*) AS n, count(DISTINCT id) AS keys FROM "big__${entity}"`).get() as { n: number; keys: number }) : { n: 0, keys: 0 };
          expect(rows.n, `${entity} after kill ${kills}`).toBe(state ? JSON.parse(state.checkpoint).records : 0);
          expect(rows.keys).toBe(rows.n);
        }
      }
      expect(kills).toBeGreaterThanOrEqual(5);

      const last = await mako(killedHome, ["sync", "big"]);
      expect(last.code, last.stderr).toBe(0);
      expect(last.stdout).toMatch(/resumed/);
      const ref = await reference;
      expect(ref.code, ref.stderr).toBe(0);
    } finally {
      db.close();
    }

    const check = new Database(join(killedHome, "mako.db"), { readonly: true });
    try {
      check.exec(`ATTACH DATABASE '${join(referenceHome, "mako.db")}' AS ref`);
      for (const [entity, expected] of Object.entries(ENTITIES)) {
        const table = `big__${entity}`;
        const counts = check.prepare(`SELECT count(*) AS n, count(DISTINCT id) AS keys FROM "${table}"`).get();
        expect(counts, table).toEqual({ n: expected, keys: expected });
        expect(dataColumns(check, table)).toEqual(dataColumns(check, table, "ref"));
        expect(differences(check, table, "ref"), `${table} differs from the uninterrupted run`).toBe(0);
      }
      // The killed runs are recorded as failed, the last one as succeeded.
      const runs = check.prepare(`SELECT status FROM mako_runs ORDER BY started_at`).all() as { status: string }[];
      expect(runs.at(-1)?.status).toBe("succeeded");
      expect(runs.filter((r) => r.status === "running")).toEqual([]);
    } finally {
      check.close();
    }
  }, 180_000);

  it("the same sync run twice changes nothing but _mako_synced_at and _mako_version", async () => {
    const home = newHome();
    await addSource(home, { count: 3000, seed: 9 }, { batchSize: 500 });
    expect((await mako(home, ["sync", "big"])).code).toBe(0);
    const db = new Database(join(home, "mako.db"));
    const snapshot = join(home, "first.db");
    db.exec(`VACUUM INTO '${snapshot}'`);

    const again = await mako(home, ["sync", "big", "--full-refresh"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/marked deleted/);
    db.exec(`ATTACH DATABASE '${snapshot}' AS first`);
    for (const [entity, expected] of Object.entries({ users: 3000, products: 300, purchases: 3000 })) {
      const table = `big__${entity}`;
      expect(db.prepare(`SELECT count(*) AS n FROM "${table}"`).get()).toEqual({ n: expected });
      expect(differences(db, table, "first"), `${table} changed`).toBe(0);
      // Every row was written again: only its sync time moved.
      const unchanged = db
        .prepare(`SELECT count(*) AS n FROM "${table}" AS t JOIN first."${table}" AS f ON f.id = t.id WHERE f._mako_synced_at = t._mako_synced_at`)
        .get() as { n: number };
      expect(unchanged.n).toBe(0);
    }
    db.close();
  }, 120_000);
});
