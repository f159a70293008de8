import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Mako } from "../../src/Mako";

const homes: string[] = [];
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));
const newHome = () => {
  const home = mkdtempSync(join(tmpdir(), "mako-sqlitestore-"));
  homes.push(home);
  return home;
};

describe("a source's saved entity selection (SQLite)", () => {
  it("is checked, kept across other changes, used by a sync without entities, and cleared back to all", async () => {
    const mako = await Mako.open({ home: newHome() });
    try {
      await expect(mako.sources.add({ name: "shop", connector: "sample", config: { count: 10 }, entities: ["users", "orders", "refunds"] })).rejects.toThrow(
        'unknown entity "orders", "refunds" for connector "sample"; it has: users, products, purchases',
      );
      await expect(mako.sources.get("shop")).rejects.toThrow(/no source named "shop"/);

      const added = await mako.sources.add({ name: "shop", connector: "sample", config: { count: 10 }, entities: ["purchases", "users", "users"] });
      expect(added.entities).toEqual(["purchases", "users"]);
      const first = await (await mako.sync("shop")).done;
      expect(first.entities.map((e) => e.entity).sort()).toEqual(["purchases", "users"]);
      expect((await mako.runs.list({ source: "shop" }))[0].entities.map((e) => e.entity).sort()).toEqual(["purchases", "users"]);

      // A config change keeps the selection; an unknown entity in an update changes nothing.
      expect((await mako.sources.update("shop", { config: { count: 12 } })).entities).toEqual(["purchases", "users"]);
      await expect(mako.sources.update("shop", { entities: ["nope"] })).rejects.toThrow(/unknown entity "nope"/);
      expect((await mako.sources.get("shop")).entities).toEqual(["purchases", "users"]);

      expect((await mako.sources.update("shop", { entities: null })).entities).toBeNull();
      const all = await (await mako.sync("shop")).done;
      expect(all.entities.map((e) => e.entity)).toEqual(["users", "products", "purchases"]);
    } finally {
      await mako.close();
    }
  });

  it("a mako.db made before the column gets it on open; its sources sync all entities", async () => {
    const home = newHome();
    const before = await Mako.open({ home });
    await before.sources.add({ name: "old", connector: "sample", config: { count: 5 } });
    await before.close();
    const db = new Database(join(home, "mako.db"));
    db.exec(`ALTER TABLE mako_sources DROP COLUMN entities_json`);
    db.close();

    const after = await Mako.open({ home });
    try {
      expect((await after.sources.get("old")).entities).toBeNull();
      expect((await after.sources.update("old", { entities: ["products"] })).entities).toEqual(["products"]);
      const run = await (await after.sync("old")).done;
      expect(run.entities.map((e) => e.entity)).toEqual(["products"]);
    } finally {
      await after.close();
    }
  });
});

describe("runs' entities (SQLite)", () => {
  it("a mako.db that kept each run's entities in one blob has them moved to a row each on open, in order", async () => {
    const home = newHome();
    const before = await Mako.open({ home });
    await before.sources.add({ name: "old", connector: "sample", config: { count: 5 } });
    const run = await (await before.sync("old")).done;
    await before.close();
    // As an older Mako left it: the entities in mako_runs.entities_json, no rows.
    const db = new Database(join(home, "mako.db"));
    db.prepare(`UPDATE mako_runs SET entities_json = ? WHERE id = ?`).run(JSON.stringify(run.entities), run.runId);
    db.exec(`DROP TABLE mako_run_entities`);
    db.close();

    const after = await Mako.open({ home });
    try {
      const stored = await after.runs.get(run.runId);
      expect(stored.entities.map((e) => [e.entity, e.status, e.records])).toEqual([
        ["users", "succeeded", 5],
        ["products", "succeeded", 5],
        ["purchases", "succeeded", 5],
      ]);
      const check = new Database(join(home, "mako.db"), { readonly: true });
      expect(check.prepare(`SELECT entities_json FROM mako_runs WHERE id = ?`).pluck().get(run.runId)).toBe("[]");
      expect(check.prepare(`SELECT count(*) FROM mako_run_entities WHERE run_id = ?`).pluck().get(run.runId)).toBe(3);
      check.close();
    } finally {
      await after.close();
    }
  });
});
