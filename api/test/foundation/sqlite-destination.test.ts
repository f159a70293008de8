import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DataRecord } from "../../src/connectors/base/types";
import { MalformedCheckpointError } from "../../src/destinations/checkpointCodec";
import type { EntityCheckpoint, TableRef } from "../../src/destinations/Destination";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";

const users: TableRef = { namespace: "shop", entity: "users" };
const T0 = "2024-05-01T00:00:00.000Z";

function checkpoint(seq: number, extra: Partial<EntityCheckpoint> = {}): EntityCheckpoint {
  return {
    runId: "run_test",
    seq,
    mode: "incremental",
    since: null,
    passStartedAt: T0,
    fetchState: { hasMore: true, offset: seq * 10 },
    maxCursor: null,
    highWaterMark: null,
    records: seq * 10,
    ...extra,
  };
}

describe("SqliteDestination", () => {
  let dir: string;
  let dest: SqliteDestination;
  let seq: number;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "mako-sqlite-"));
    dest = SqliteDestination.open(join(dir, "dest.db"));
    seq = 0;
  });
  afterEach(async () => {
    await dest.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (records: DataRecord[], options: { table?: TableRef; syncedAt?: string; primaryKey?: string[] } = {}) =>
    dest.writeChunk({
      table: options.table ?? users,
      primaryKey: options.primaryKey ?? ["id"],
      records,
      checkpoint: checkpoint(++seq),
      syncedAt: options.syncedAt ?? new Date().toISOString(),
    });
  const rows = (table = "shop__users") => dest.db.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).all() as DataRecord[];
  const columns = (table = "shop__users") =>
    Object.fromEntries(
      (dest.db.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(table) as { name: string; type: string }[]).map((c) => [
        c.name,
        c.type,
      ]),
    );

  it("creates NAME__ENTITY from the records, with system columns, nested values as JSON", async () => {
    const syncedAt = "2024-05-02T10:00:00.000Z";
    await write(
      [
        { id: 1, name: "Ada", active: true, score: 9.5, address: { city: "Lisbon", geo: [1, 2] }, tags: ["a", "b"], note: null },
        { id: 2, name: "Alan", active: false, score: 3, address: null, tags: [], note: null },
      ],
      { syncedAt },
    );
    expect(columns()).toEqual({
      id: "INTEGER",
      name: "TEXT",
      active: "INTEGER",
      score: "REAL",
      address: "TEXT",
      tags: "TEXT",
      _mako_synced_at: "TEXT",
      _mako_deleted_at: "TEXT",
      _mako_version: "INTEGER",
    });
    const [ada, alan] = rows();
    expect(ada).toMatchObject({ id: 1, name: "Ada", active: 1, score: 9.5, _mako_synced_at: syncedAt, _mako_deleted_at: null });
    expect(JSON.parse(ada.address as string)).toEqual({ city: "Lisbon", geo: [1, 2] });
    expect(JSON.parse(ada.tags as string)).toEqual(["a", "b"]);
    expect(alan).toMatchObject({ active: 0, score: 3, address: null, tags: "[]" });
    const tables = await dest.listTables("shop");
    expect(tables).toEqual([expect.objectContaining({ entity: "users", table: "shop__users", rows: 2 })]);
    expect(await dest.loadCheckpoint(users)).toEqual(checkpoint(1));
  });

  it("adds a column for a new field; earlier rows read null there", async () => {
    await write([{ id: 1, name: "Ada" }]);
    await write([{ id: 2, name: "Alan", email: "alan@example.com" }]);
    expect(Object.keys(columns())).toContain("email");
    expect(rows().map((r) => r.email)).toEqual([null, "alan@example.com"]);
  });

  it("widens a column whose type changes: integer → real → text, keeping every value", async () => {
    await write([{ id: 1, amount: 1 }]);
    await write([{ id: 2, amount: 2.5 }]);
    expect(columns().amount).toBe("REAL");
    expect(rows().map((r) => r.amount)).toEqual([1, 2.5]);
    await write([{ id: 3, amount: "n/a" }]);
    expect(columns().amount).toBe("TEXT");
    // A value reads the same whether it arrived before or after the column widened.
    await write([{ id: 4, amount: 1 }]);
    expect(rows().map((r) => r.amount)).toEqual(["1", "2.5", "n/a", "1"]);
  });

  it("widens text to JSON when objects arrive, keeping earlier strings as JSON strings", async () => {
    await write([{ id: 1, meta: "plain" }]);
    await write([{ id: 2, meta: { nested: true } }]);
    expect(rows().map((r) => JSON.parse(r.meta as string))).toEqual(["plain", { nested: true }]);
  });

  it("widens an integer primary key to text when a string id arrives", async () => {
    await write([{ id: 1, name: "one" }, { id: 2, name: "two" }]);
    await write([{ id: "cus_abc", name: "stripe-like" }]);
    expect(columns().id).toBe("TEXT");
    expect(rows().map((r) => r.id)).toEqual(["1", "2", "cus_abc"]);
    // Upserts still hit the widened key.
    await write([{ id: 2, name: "two again" }]);
    expect(rows()).toHaveLength(3);
    expect(rows().find((r) => r.id === "2")?.name).toBe("two again");
  });

  it("upserts on the primary key: writing the same chunk twice changes nothing but _mako_synced_at", async () => {
    const chunk = [
      { id: 1, name: "Ada", tags: ["x"] },
      { id: 2, name: "Alan", tags: [] },
    ];
    await write(chunk, { syncedAt: "2024-05-02T00:00:00.000Z" });
    const first = rows();
    await write(chunk, { syncedAt: "2024-05-03T00:00:00.000Z" });
    const second = rows();
    expect(second).toHaveLength(2);
    const withoutSyncedAt = (r: DataRecord[]) => r.map(({ _mako_synced_at, ...rest }) => rest);
    expect(withoutSyncedAt(second)).toEqual(withoutSyncedAt(first));
    expect(second[0]._mako_synced_at).toBe("2024-05-03T00:00:00.000Z");
  });

  it("upserts on a composite primary key", async () => {
    const ref = { namespace: "shop", entity: "lines" };
    await write([{ order: 1, line: 1, qty: 1 }, { order: 1, line: 2, qty: 2 }], { table: ref, primaryKey: ["order", "line"] });
    await write([{ order: 1, line: 2, qty: 5 }, { order: 2, line: 1, qty: 1 }], { table: ref, primaryKey: ["order", "line"] });
    expect(rows("shop__lines").map((r) => [r.order, r.line, r.qty])).toEqual([[1, 1, 1], [1, 2, 5], [2, 1, 1]]);
  });

  it("soft-deletes a record that carries _mako_deleted_at, keeping the row and what it held", async () => {
    await write([{ id: 1, name: "Ada" }, { id: 2, name: "Alan" }]);
    const deletedAt = "2024-06-01T00:00:00.000Z";
    await write([{ id: 2, _mako_deleted_at: deletedAt }]);
    const [ada, alan] = rows();
    expect(ada._mako_deleted_at).toBeNull();
    expect(alan).toMatchObject({ id: 2, name: "Alan", _mako_deleted_at: deletedAt });
    expect(Object.keys(columns())).not.toContain("_mako_deleted_at_2");
    // A normal upsert revives it.
    await write([{ id: 2, name: "Alan T." }]);
    expect(rows()[1]).toMatchObject({ name: "Alan T.", _mako_deleted_at: null });
  });

  it("soft-deletes keep row data in large chunks too (multi-row statements)", async () => {
    const many = Array.from({ length: 300 }, (_, i) => ({ id: i + 1, name: `user ${i + 1}` }));
    await write(many);
    const deletedAt = "2024-06-01T00:00:00.000Z";
    // Deletions of the odd ids mixed with updates of the even ones, in one chunk.
    await write(many.map((r) => (r.id % 2 ? { id: r.id, _mako_deleted_at: deletedAt } : { ...r, name: `${r.name}!` })));
    const after = rows();
    expect(after).toHaveLength(300);
    for (const r of after) {
      const id = r.id as number;
      expect(r).toMatchObject(id % 2 ? { name: `user ${id}`, _mako_deleted_at: deletedAt } : { name: `user ${id}!`, _mako_deleted_at: null });
    }
  });

  it("full refresh: completeEntity marks rows not synced since the pass began as deleted, never drops them", async () => {
    await write([{ id: 1 }, { id: 2 }, { id: 3 }], { syncedAt: "2024-05-01T00:00:00.000Z" });
    const passStartedAt = "2024-05-02T00:00:00.000Z";
    await write([{ id: 1 }, { id: 3 }], { syncedAt: "2024-05-02T00:00:01.000Z" });
    const done = checkpoint(0, { mode: "full_refresh", fetchState: null, passStartedAt, highWaterMark: "x" });
    const { deleted } = await dest.completeEntity({
      table: users,
      primaryKey: ["id"],
      checkpoint: done,
      markUnseenDeletedBefore: passStartedAt,
      deletedAt: "2024-05-02T00:00:02.000Z",
    });
    expect(deleted).toBe(1);
    expect(rows().map((r) => [r.id, r._mako_deleted_at])).toEqual([
      [1, null],
      [2, "2024-05-02T00:00:02.000Z"],
      [3, null],
    ]);
    expect(await dest.loadCheckpoint(users)).toEqual(done);
    // Already-deleted rows keep their original deletion time on the next refresh.
    const again = await dest.completeEntity({
      table: users,
      primaryKey: ["id"],
      checkpoint: done,
      markUnseenDeletedBefore: "2024-05-03T00:00:00.000Z",
      deletedAt: "2024-05-03T00:00:01.000Z",
    });
    expect(again.deleted).toBe(2);
    expect(rows()[1]._mako_deleted_at).toBe("2024-05-02T00:00:02.000Z");
  });

  describe("full refresh into a shadow table", () => {
    const P1 = "2024-06-01T00:00:00.000Z";
    const P2 = "2024-06-02T00:00:00.000Z";
    const refresh = (n: number, passStartedAt: string, extra: Partial<EntityCheckpoint> = {}) =>
      checkpoint(n, { mode: "full_refresh", passStartedAt, ...extra });
    const writeRefresh = (records: DataRecord[], cp: EntityCheckpoint, d = dest) =>
      d.writeChunk({ table: users, primaryKey: ["id"], records, checkpoint: cp, syncedAt: new Date(Date.parse(cp.passStartedAt) + cp.seq * 1000).toISOString() });
    const complete = (passStartedAt: string, d = dest) =>
      d.completeEntity({
        table: users,
        primaryKey: ["id"],
        checkpoint: refresh(0, passStartedAt, { fetchState: null }),
        markUnseenDeletedBefore: passStartedAt,
        deletedAt: "2024-07-01T00:00:00.000Z",
      });
    const before = [
      { id: 1, name: "a", score: 1 },
      { id: 2, name: "b", score: 2 },
      { id: 3, name: "c", score: 3 },
    ];
    const seed = async () => {
      await write([...before, { id: 6, name: "f", score: 6 }], { syncedAt: "2024-05-01T00:00:00.000Z" });
      await write([{ id: 4, _mako_deleted_at: "2024-05-01T00:00:05.000Z" }], { syncedAt: "2024-05-01T00:00:05.000Z" });
      return rows();
    };

    it("readers see the previous table until completion, which swaps in the new rows with unseen ones marked deleted", async () => {
      const previous = await seed();
      // New field and a widening (integer → real) during the pass.
      await writeRefresh([{ id: 1, name: "a2", score: 1.5, extra: true }], refresh(1, P1));
      // A deletion carrying only its key keeps the other values of the live row it deletes.
      await writeRefresh([{ id: 3, name: "c2", score: 3 }, { id: 5, name: "e", score: 5 }, { id: 6, _mako_deleted_at: "2024-06-01T00:00:09.000Z" }], refresh(2, P1));
      expect(rows()).toEqual(previous);
      expect(columns().score).toBe("INTEGER");
      expect((await dest.listTables("shop")).map((t) => t.table)).toEqual(["shop__users"]);

      const { deleted } = await complete(P1);
      expect(deleted).toBe(1);
      const after = Object.fromEntries(rows().map((r) => [r.id, r]));
      expect(after[1]).toMatchObject({ name: "a2", score: 1.5, extra: 1, _mako_deleted_at: null });
      expect(after[2]).toMatchObject({ name: "b", score: 2, extra: null, _mako_deleted_at: "2024-07-01T00:00:00.000Z" });
      expect(after[3]).toMatchObject({ name: "c2", score: 3, _mako_deleted_at: null });
      expect(after[4]._mako_deleted_at).toBe("2024-05-01T00:00:05.000Z"); // a soft delete keeps its time
      expect(after[5]).toMatchObject({ name: "e", _mako_deleted_at: null });
      expect(after[6]).toMatchObject({ name: "f", score: 6, _mako_deleted_at: "2024-06-01T00:00:09.000Z" });
      expect(columns()).toMatchObject({ score: "REAL", extra: "INTEGER" });
      expect(dest.db.prepare(`SELECT name FROM sqlite_master WHERE name LIKE '%mako_shadow%'`).all()).toEqual([]);
      expect((await dest.loadCheckpoint(users))?.fetchState).toBeNull();
      // The swapped-in table takes further writes with its evolved schema.
      await write([{ id: 2, name: "b3", score: 2.5, extra: false }]);
      expect(rows().find((r) => r.id === 2)).toMatchObject({ name: "b3", score: 2.5, extra: 0, _mako_deleted_at: null });
    });

    it("a pass resumed after the process died keeps its shadow; a new pass drops a stale one", async () => {
      const previous = await seed();
      await writeRefresh([{ id: 1, name: "a2", score: 1 }], refresh(1, P1));
      // The process dies; a new one resumes the same pass from the stored checkpoint.
      await dest.close();
      dest = SqliteDestination.open(join(dir, "dest.db"));
      expect(rows()).toEqual(previous);
      await writeRefresh([{ id: 2, name: "b2", score: 2 }], refresh(2, P1));
      await complete(P1);
      expect(rows().map((r) => [r.id, r.name, r._mako_deleted_at])).toEqual([
        [1, "a2", null],
        [2, "b2", null],
        [3, "c", "2024-07-01T00:00:00.000Z"],
        [4, null, "2024-05-01T00:00:05.000Z"],
        [6, "f", "2024-07-01T00:00:00.000Z"],
      ]);

      // A pass abandoned after one chunk (id 9), then a new full refresh: id 9 must never appear.
      await writeRefresh([{ id: 9, name: "stale", score: 9 }], refresh(1, P2));
      await dest.close();
      dest = SqliteDestination.open(join(dir, "dest.db"));
      await dest.resetCheckpoint(users);
      const P3 = "2024-06-03T00:00:00.000Z";
      await writeRefresh([{ id: 1, name: "a3", score: 1 }], refresh(1, P3));
      await complete(P3);
      const ids = rows().map((r) => [r.id, r._mako_deleted_at === null]);
      expect(ids).toEqual([
        [1, true],
        [2, false],
        [3, false],
        [4, false],
        [6, false],
      ]);
    });

    it("a chunk that fails mid-refresh (the pass's first, then a later one) leaves live and shadow as they were", async () => {
      const previous = await seed();
      const circular: Record<string, unknown> = { id: 2, name: "x" };
      circular.self = circular;
      // The first chunk fails: the shadow it created rolls back with it.
      await expect(writeRefresh([{ id: 1, name: "a2", score: 1 }, circular], refresh(1, P1))).rejects.toThrow(/circular/i);
      expect(dest.db.prepare(`SELECT name FROM sqlite_master WHERE name LIKE '%mako_shadow%'`).all()).toEqual([]);
      await writeRefresh([{ id: 1, name: "a2", score: 1 }], refresh(1, P1));
      await expect(writeRefresh([{ id: 3, name: "c2", score: 3 }, circular], refresh(2, P1))).rejects.toThrow(/circular/i);
      expect(rows()).toEqual(previous);
      await writeRefresh([{ id: 2, name: "b2", score: 2 }], refresh(2, P1));
      await complete(P1);
      expect(rows().map((r) => [r.id, r.name, r._mako_deleted_at !== null])).toEqual([
        [1, "a2", false],
        [2, "b2", false],
        [3, "c", true],
        [4, null, true],
        [6, "f", true],
      ]);
    });
  });

  it("puts fields past 1900 columns into _mako_overflow as JSON, losing none", async () => {
    const wide: DataRecord = { id: 1 };
    for (let i = 0; i < 1950; i++) wide[`f${i}`] = i;
    await write([wide]);
    const cols = columns();
    expect(Object.keys(cols)).toHaveLength(1900 + 4); // _mako_synced_at, _mako_deleted_at, _mako_overflow, _mako_version
    expect(cols._mako_overflow).toBe("TEXT");
    await write([{ id: 2, f0: 7, brand_new: "late field" }]);
    const [one, two] = rows();
    const overflowOne = JSON.parse(one._mako_overflow as string);
    const restored = { ...Object.fromEntries(Object.entries(one).filter(([k]) => !k.startsWith("_mako_"))), ...overflowOne };
    expect(restored).toEqual(wide);
    expect(JSON.parse(two._mako_overflow as string)).toEqual({ brand_new: "late field" });
    expect(two.f0).toBe(7);
  });

  it("a chunk that fails to write leaves neither rows nor checkpoint, and the next chunk still works", async () => {
    // A table that does not exist yet: the failed chunk must not create it.
    const circular: Record<string, unknown> = { id: 9 };
    circular.self = circular;
    await expect(write([{ id: 8, name: "fine" }, circular])).rejects.toThrow(/circular/i);
    expect(await dest.listTables("shop")).toEqual([]);
    expect(await dest.loadCheckpoint(users)).toBeNull();

    await write([{ id: 1, name: "Ada" }]);
    const committed = await dest.loadCheckpoint(users);
    // 2^70 does not fit SQLite's 64-bit integer; the new column must not stay either.
    await expect(write([{ id: 2, name: "Alan", big: 2n ** 70n }])).rejects.toThrow();
    expect(rows()).toEqual([expect.objectContaining({ id: 1, name: "Ada" })]);
    expect(Object.keys(columns())).not.toContain("big");
    expect(await dest.loadCheckpoint(users)).toEqual(committed);

    await write([{ id: 2, name: "Alan", big: 5 }]);
    expect(rows().map((r) => [r.id, r.big])).toEqual([[1, null], [2, 5]]);
  });

  it("a malformed stored checkpoint is a MalformedCheckpointError that says to run a full refresh", async () => {
    await write([{ id: 1 }]);
    const corrupt = dest.db.prepare(`UPDATE _mako_state SET checkpoint = ? WHERE namespace = 'shop' AND entity = 'users'`);
    corrupt.run("{not json");
    await expect(dest.loadCheckpoint(users)).rejects.toThrow(MalformedCheckpointError);
    await expect(dest.loadCheckpoint(users)).rejects.toThrow(
      "malformed checkpoint for shop.users (not JSON); run a full refresh of that entity to start it over",
    );
    corrupt.run(JSON.stringify({ ...checkpoint(1), seq: "one" }));
    await expect(dest.loadCheckpoint(users)).rejects.toThrow(/malformed checkpoint for shop\.users \(seq: .*\); run a full refresh/);
  });
});
