// Finding 6: no two (source, entity) pairs, and no pair and Mako's own temporary tables, share a
// table in any destination. New source names cannot make `SOURCE__ENTITY` ambiguous, temporary
// tables have names no synced table can have, cut names carry a hash, entity names differing
// only in case are refused, and whatever slips through (sources named before these rules) is
// refused when its table would be created, in one line naming both.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataRecord } from "../../src/connectors/base/types";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import { Mako } from "../../src/Mako";
import { type Warehouse, RecordsSource, openWarehouse, rowsOf, sqliteTables, syncInto, uniqueNamespace } from "./destinationKit";

const records = (n: number, label: string): DataRecord[] => Array.from({ length: n }, (_, i) => ({ id: i + 1, label }));
const one = (entity: string, rows: DataRecord[]) => new RecordsSource({ [entity]: rows });

describe.each(["sqlite", "mysql"] as const)("SOURCE__ENTITY tables on %s", (kind) => {
  let w: Warehouse;
  const namespaces: string[] = [];
  const ns = (name: string) => (namespaces.push(name), name);
  beforeAll(async () => {
    w = await openWarehouse(kind);
  });
  afterAll(async () => {
    for (const n of namespaces) await w?.destination.dropNamespace(n);
    await w?.close();
  });

  it("source a + entity b__c and source a__b + entity c: the second is refused naming both; the first's rows stay live", async () => {
    const a = ns(uniqueNamespace("a"));
    const ab = ns(`${a}__b`); // a name stored before source names lost `__`
    expect((await syncInto(w, a, one("b__c", records(5, "first")))).result.status).toBe("succeeded");
    const second = await syncInto(w, ab, one("c", records(2, "second")));
    const error = second.entity("c").error ?? "";
    expect(second.entity("c").status).toBe("failed");
    expect(error.split("\n")).toHaveLength(1);
    expect(error).toContain(`"${a}"`);
    expect(error).toContain('"b__c"');
    expect(error).toContain(`"${ab}"`);
    const rows = await rowsOf(w, a, "b__c");
    expect(rows.map((r) => [r.label, r._mako_deleted_at])).toEqual(Array(5).fill(["first", null]));
  });

  it("a full refresh of a/b leaves source a__b's entity mako_shadow alone (the shadow has a name no synced table has)", async () => {
    const a = ns(uniqueNamespace("fr"));
    const ab = ns(`${a}__b`);
    expect((await syncInto(w, ab, one("mako_shadow", records(3, "theirs")))).result.status).toBe("succeeded");
    expect((await syncInto(w, a, one("b", records(4, "mine")))).result.status).toBe("succeeded");
    const refresh = await syncInto(w, a, one("b", records(2, "mine again")), { fullRefresh: true });
    expect(refresh.result.status, refresh.entity("b").error).toBe("succeeded");
    expect((await rowsOf(w, ab, "mako_shadow")).map((r) => r.label)).toEqual(["theirs", "theirs", "theirs"]);
    const mine = await rowsOf(w, a, "b");
    expect(mine.map((r) => [r.label, r._mako_deleted_at === null])).toEqual([
      ["mine again", true],
      ["mine again", true],
      ["mine", false],
      ["mine", false],
    ]);
  });

  it("widening a column of a/b leaves source a__b's entity mako_rebuild alone", async () => {
    const a = ns(uniqueNamespace("wd"));
    const ab = ns(`${a}__b`);
    expect((await syncInto(w, ab, one("mako_rebuild", records(3, "theirs")))).result.status).toBe("succeeded");
    expect((await syncInto(w, a, one("b", [{ id: 1, v: 1 }]))).result.status).toBe("succeeded");
    const widened = await syncInto(w, a, one("b", [{ id: 1, v: "now text" }]));
    expect(widened.result.status, widened.entity("b").error).toBe("succeeded");
    expect((await rowsOf(w, ab, "mako_rebuild")).map((r) => r.label)).toEqual(["theirs", "theirs", "theirs"]);
    expect((await rowsOf(w, a, "b"))[0].v).toBe("now text");
  });

  it("entities Users and users of one source: the second is refused, naming both (tables fold case here)", async () => {
    const a = ns(uniqueNamespace("case"));
    expect((await syncInto(w, a, one("Users", records(2, "upper")))).result.status).toBe("succeeded");
    const lower = await syncInto(w, a, one("users", records(1, "lower")));
    expect(lower.entity("users").status).toBe("failed");
    expect(lower.entity("users").error).toMatch(/"Users".*"users"|"users".*"Users"/);
    expect((await rowsOf(w, a, "Users")).map((r) => r.label)).toEqual(["upper", "upper"]);
  });
});

describe("names cut to the database's limit stay apart", () => {
  it("MySQL: two entities whose SOURCE__ENTITY share the first 64 characters get two tables", async () => {
    const w = await openWarehouse("mysql");
    const a = uniqueNamespace("cut");
    try {
      const stem = "e".repeat(70);
      expect((await syncInto(w, a, new RecordsSource({ [`${stem}_one`]: records(2, "one"), [`${stem}_two`]: records(3, "two") }))).result.status).toBe("succeeded");
      expect((await rowsOf(w, a, `${stem}_one`)).map((r) => r.label)).toEqual(["one", "one"]);
      expect((await rowsOf(w, a, `${stem}_two`)).map((r) => r.label)).toEqual(["two", "two", "two"]);
      const tables = await w.destination.listTables(a);
      expect(new Set(tables.map((t) => t.table)).size).toBe(2);
      for (const t of tables) expect(t.table.length).toBeLessThanOrEqual(64);
    } finally {
      await w.destination.dropNamespace(a);
      await w.close();
    }
  });

  it("PostgreSQL: two entities sharing their first 63 bytes get two tables", async () => {
    const w = await openWarehouse("postgres");
    const a = uniqueNamespace("cut");
    try {
      const stem = "é".repeat(40); // 80 bytes
      expect((await syncInto(w, a, new RecordsSource({ [`${stem}1`]: records(2, "one"), [`${stem}2`]: records(3, "two") }))).result.status).toBe("succeeded");
      expect((await rowsOf(w, a, `${stem}1`)).map((r) => r.label)).toEqual(["one", "one"]);
      expect((await rowsOf(w, a, `${stem}2`)).map((r) => r.label)).toEqual(["two", "two", "two"]);
      const tables = await w.destination.listTables(a);
      expect(new Set(tables.map((t) => t.table)).size).toBe(2);
    } finally {
      await w.destination.dropNamespace(a);
      await w.close();
    }
  });

  it("DuckDB: entities Users and users of one source: the second is refused, naming both", async () => {
    const w = await openWarehouse("duckdb");
    const a = uniqueNamespace("case");
    try {
      expect((await syncInto(w, a, one("Users", records(2, "upper")))).result.status).toBe("succeeded");
      const lower = await syncInto(w, a, one("users", records(1, "lower")));
      expect(lower.entity("users").error).toMatch(/"Users".*"users"|"users".*"Users"/);
      expect((await rowsOf(w, a, "Users")).map((r) => r.label)).toEqual(["upper", "upper"]);
    } finally {
      await w.close();
    }
  });

  it.each(["postgres", "duckdb"] as const)("%s: an entity named like a shadow (users__mako_shadow) is refused, and the full refresh of users is unharmed", async (kind) => {
    const w = await openWarehouse(kind);
    const a = uniqueNamespace("shadowlike");
    try {
      expect((await syncInto(w, a, one("users", records(3, "live")))).result.status).toBe("succeeded");
      const forged = await syncInto(w, a, one("users__mako_shadow", records(1, "forged")));
      expect(forged.entity("users__mako_shadow").status).toBe("failed");
      expect(forged.entity("users__mako_shadow").error).toMatch(/users__mako_shadow.*reserved|reserved.*users__mako_shadow/);
      const refresh = await syncInto(w, a, one("users", records(3, "refreshed")), { fullRefresh: true });
      expect(refresh.result.status, refresh.entity("users").error).toBe("succeeded");
      expect((await rowsOf(w, a, "users")).map((r) => r.label)).toEqual(["refreshed", "refreshed", "refreshed"]);
    } finally {
      await w.destination.dropNamespace(a);
      await w.close();
    }
  });
});

describe("tables named by an older Mako keep their names (its records say which)", () => {
  const pass = { runId: "r", mode: "full_refresh" as const, since: null, passStartedAt: "2024-02-01T00:00:00.000Z", maxCursor: null, highWaterMark: null };

  it("SQLite: an unfinished full refresh whose shadow is ns__users__mako_shadow resumes into it and swaps", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "mako-oldnames-")), "old.db");
    const t = { namespace: "shop", entity: "users" };
    let d = SqliteDestination.open(path);
    const write = (seq: number, ids: number[], mode: "incremental" | "full_refresh", at: string) =>
      d.writeChunk({
        table: t,
        primaryKey: ["id"],
        records: ids.map((id) => ({ id, seq })),
        checkpoint: { ...pass, mode, passStartedAt: mode === "incremental" ? "2024-01-01T00:00:00.000Z" : pass.passStartedAt, seq, fetchState: { hasMore: true }, records: seq },
        syncedAt: at,
      });
    try {
      await write(1, [1, 9], "incremental", "2024-01-01T00:00:00.000Z");
      await write(1, [1], "full_refresh", "2024-02-01T00:00:01.000Z");
      // As an older Mako named and recorded it.
      d.db.exec(`ALTER TABLE "_mako_shadow__shop__users" RENAME TO "shop__users__mako_shadow"`);
      for (const table of ["_mako_tables", "_mako_columns"]) d.db.exec(`UPDATE ${table} SET table_name = 'shop__users__mako_shadow' WHERE table_name = '_mako_shadow__shop__users'`);
      await d.close();
      d = SqliteDestination.open(path);
      await write(2, [2], "full_refresh", "2024-02-01T00:00:02.000Z");
      await d.completeEntity({
        table: t,
        primaryKey: ["id"],
        checkpoint: { ...pass, seq: 0, fetchState: null, records: 2 },
        markUnseenDeletedBefore: pass.passStartedAt,
        deletedAt: "2024-02-01T00:01:00.000Z",
      });
      const rows = await d.readRows(t, { limit: 10, offset: 0 });
      expect(rows.map((r) => [r.id, r.seq, r._mako_deleted_at === null])).toEqual([
        [1, 1, true],
        [2, 2, true],
        [9, 1, false],
      ]);
      expect(sqliteTables(d.db).filter((n) => !n.startsWith("_mako_") || n.includes("shadow"))).toEqual(["shop__users"]);
    } finally {
      await d.close();
    }
  });

  it("PostgreSQL: a table an older Mako cut to 63 bytes without a hash (and did not record) is still written", async () => {
    const w = await openWarehouse("postgres");
    const a = uniqueNamespace("legacy");
    const entity = "l".repeat(70);
    try {
      expect((await syncInto(w, a, one(entity, records(2, "first")))).result.status).toBe("succeeded");
      const [info] = await w.destination.listTables(a);
      const legacy = "l".repeat(63);
      await w.sql(`ALTER TABLE "${a}"."${info.table.split(".")[1].replaceAll('"', "")}" RENAME TO "${legacy}"`);
      await w.sql(`UPDATE _mako.tables SET table_name = NULL WHERE namespace = '${a}'`);
      const again = await syncInto(w, a, one(entity, records(3, "second")));
      expect(again.result.status, again.entity(entity).error).toBe("succeeded");
      expect(again.logs.filter((l) => l.startsWith("warn:"))).toEqual([]);
      expect((await w.destination.listTables(a)).map((t) => t.table)).toEqual([`${a}.${legacy}`]);
      expect((await rowsOf(w, a, entity)).map((r) => r.label)).toEqual(["second", "second", "second"]);
    } finally {
      await w.destination.dropNamespace(a);
      await w.close();
    }
  });
});

describe("names checked when a source is added", () => {
  let home: string;
  let mako: Mako;
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "mako-names-"));
    mako = await Mako.open({ home });
  });
  afterAll(async () => {
    await mako?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("a new source name with __ or a trailing _ is refused (SOURCE__ENTITY must split one way); existing ones keep syncing", async () => {
    for (const name of ["a__b", "a_", "shop__"]) {
      await expect(mako.sources.add({ name, connector: "sample", config: { count: 5 } })).rejects.toThrow(/__|end with _/);
    }
    await expect(mako.sources.list()).resolves.toEqual([]);
    // Stored before the rule: it keeps working.
    await mako.store.addSource({ name: "old__name", connector: "sample", config: { count: 5 }, settings: {}, destination: null });
    const { done } = await mako.sync("old__name", { entities: ["users"] });
    expect((await done).status).toBe("succeeded");
  });

  const PRIVATE_KEY = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const rest = (names: string[]) => ({ base_url: "http://127.0.0.1:1", entities: names.map((name) => ({ name })) });
  const graphql = (names: string[]) => ({ endpoint: "http://127.0.0.1:1/graphql", entities: names.map((name) => ({ name, query: "query { x { id } }", path: "x" })) });
  const bigquery = (names: string[]) => ({
    service_account_json: JSON.stringify({ type: "service_account", project_id: "shop-analytics", private_key: PRIVATE_KEY, client_email: "r@shop-analytics.iam.gserviceaccount.com" }),
    entities: names.map((name) => ({ name, table: "shop.orders" })),
  });

  it.each([
    ["rest", rest],
    ["graphql", graphql],
    ["bigquery", bigquery],
  ] as const)("%s: entities Users and users are refused at config validation, naming both", (connector, config) => {
    expect(() => mako.connectors.validateConfig(connector, config(["users", "orders"]))).not.toThrow();
    expect(() => mako.connectors.validateConfig(connector, config(["Users", "users"]))).toThrow(/entities\[1\]\.name.*"users".*"Users"/);
  });

  it.each([
    ["rest", rest],
    ["graphql", graphql],
    ["bigquery", bigquery],
  ] as const)("%s: entity names Mako keeps for its own tables (_mako…, …__mako_…) are refused", (connector, config) => {
    for (const name of ["users__mako_shadow", "_mako_shadow__users", "_mako_state"]) {
      expect(() => mako.connectors.validateConfig(connector, config([name]))).toThrow(/entities\[0\]\.name.*reserved/);
    }
  });
});
