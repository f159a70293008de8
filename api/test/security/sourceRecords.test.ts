// Finding 9: what a source sends must never silently change meaning nor break an entity for
// good. A field named like Mako's system columns is data (deletions come only from the
// connector, through markDeleted), `{id: 1}` and `{id: "1"}` are one row, NUL in a field name
// lands, and MariaDB's limits (names, keys, packets, JSON depth) are met or named in one line.
// Every case runs the engine into the real database.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markDeleted } from "../../src/connectors/base";
import type { DataRecord } from "../../src/connectors/base/types";
import { KINDS, type Warehouse, RecordsSource, openWarehouse, rowsOf, syncInto, uniqueNamespace } from "./destinationKit";

/** JSON columns come back parsed from the servers and as text from SQLite. */
const json = (value: unknown) => (typeof value === "string" ? JSON.parse(value) : value);

describe.each(KINDS)("records on %s", (kind) => {
  let w: Warehouse;
  const namespaces: string[] = [];
  const ns = (label: string) => {
    const name = uniqueNamespace(label);
    namespaces.push(name);
    return name;
  };
  beforeAll(async () => {
    w = await openWarehouse(kind);
  });
  afterAll(async () => {
    for (const n of namespaces) await w?.destination.dropNamespace(n);
    await w?.close();
  });

  it("a source field named _mako_deleted_at (or any _mako_* name) is data under _source_…; only markDeleted deletes", async () => {
    const namespace = ns("reserved");
    const records: DataRecord[] = [
      { id: 1, name: "forged", _mako_deleted_at: "2024-05-01T00:00:00.000Z", _mako_synced_at: "from the source", _mako_overflow: { a: 1 }, _mako_version: 7, _mako_other: 5 },
      markDeleted({ id: 2, name: "really gone" }, "2024-06-01T00:00:00.000Z"),
      { id: 3, name: "plain" },
    ];
    const { result, entity } = await syncInto(w, namespace, new RecordsSource({ items: records }));
    expect(result.status, entity("items").error).toBe("succeeded");
    const rows = await rowsOf(w, namespace, "items");
    expect(rows.map((r) => [r.id, r._mako_deleted_at === null])).toEqual([
      [1, true],
      [2, false],
      [3, true],
    ]);
    expect(String(rows[0]._source__mako_deleted_at)).toContain("2024-05-01");
    expect(rows[0]._source__mako_synced_at).toBe("from the source");
    expect(json(rows[0]._source__mako_overflow)).toEqual({ a: 1 });
    expect(Number(rows[0]._source__mako_other)).toBe(5);
    // `_mako_version` orders writes (the version guard): a source's own field of that name is data too.
    expect(Number(rows[0]._source__mako_version)).toBe(7);
    expect(rows[0]._mako_version).not.toBe(7);
    expect(rows[1].name).toBe("really gone");
    // A JSON round trip (a webhook's stored event, a replayed body) cannot forge a deletion either.
    const replayed = JSON.parse(JSON.stringify(markDeleted({ id: 3, name: "replayed" }))) as DataRecord;
    expect(replayed._mako_deleted_at).toBeTypeOf("string");
    await syncInto(w, namespace, new RecordsSource({ items: [records[0], records[1], replayed] }));
    expect((await rowsOf(w, namespace, "items")).map((r) => r._mako_deleted_at === null)).toEqual([true, false, true]);
  });

  it("{id: 1} and {id: \"1\"} in one chunk are one row (last wins), for single and composite keys", async () => {
    const namespace = ns("mixedkey");
    const source = new RecordsSource(
      {
        items: [{ id: 1, v: "number" }, { id: "1", v: "text" }, { id: 2, v: "two" }],
        pairs: [{ a: 1, b: "x", v: 1 }, { a: "1", b: "x", v: 2 }],
      },
      { pairs: { primaryKey: ["a", "b"] } },
    );
    const { result, entity } = await syncInto(w, namespace, source);
    expect(result.status, `${entity("items").error} ${entity("pairs").error}`).toBe("succeeded");
    const items = await rowsOf(w, namespace, "items");
    expect(items.map((r) => [String(r.id), r.v])).toEqual([
      ["1", "text"],
      ["2", "two"],
    ]);
    const pairs = await rowsOf(w, namespace, "pairs");
    expect(pairs.map((r) => Number(r.v))).toEqual([2]);
  });

  it("NUL in a field name lands as U+FFFD in the column name", async () => {
    const namespace = ns("nulfield");
    const { result, entity } = await syncInto(w, namespace, new RecordsSource({ items: [{ id: 1, "a\u0000b": "kept", "\u0000": 2 }] }));
    expect(result.status, entity("items").error).toBe("succeeded");
    const [row] = await rowsOf(w, namespace, "items");
    expect(row["a\uFFFDb"]).toBe("kept");
    expect(Number(row["\uFFFD"])).toBe(2);
  });
});

describe("records on MariaDB: names, keys, packets and JSON depth", () => {
  let w: Warehouse;
  const namespaces: string[] = [];
  const ns = (label: string) => {
    const name = uniqueNamespace(label);
    namespaces.push(name);
    return name;
  };
  beforeAll(async () => {
    w = await openWarehouse("mysql");
  });
  afterAll(async () => {
    for (const n of namespaces) await w?.destination.dropNamespace(n);
    await w?.close();
  });

  it("field names over 64 and 255 characters, with 4-byte characters or NUL, get valid columns, the same on every run", async () => {
    const namespace = ns("names");
    const long = "f".repeat(70);
    const record = { id: 1, [long]: 1, [`${long}x`]: 2, ["g".repeat(300)]: 3, "emoji😀": 4, "𝄞": 5, "nul\u0000": 6 };
    const first = await syncInto(w, namespace, new RecordsSource({ items: [record] }));
    expect(first.result.status, first.entity("items").error).toBe("succeeded");
    const [info] = await w.destination.listTables(namespace);
    const names = info.columns.map((c) => c.name);
    for (const name of names) {
      expect([...name].length).toBeLessThanOrEqual(64);
      expect(name).not.toMatch(/[\u0000\uD800-\uDFFF]/);
    }
    const [{ _mako_version, ...row }] = await rowsOf(w, namespace, "items");
    expect(Object.values(row).map(Number).filter((v) => v > 0).sort()).toEqual([1, 1, 2, 3, 4, 5, 6]);
    const second = await syncInto(w, namespace, new RecordsSource({ items: [{ ...record, id: 2 }] }));
    expect(second.result.status, second.entity("items").error).toBe("succeeded");
    const [again] = await w.destination.listTables(namespace);
    expect(again.columns.map((c) => c.name)).toEqual(names);
    expect(await rowsOf(w, namespace, "items")).toHaveLength(2);
  });

  it("a text key over 255 characters fails the entity with one line naming the record and the limit", async () => {
    const namespace = ns("longkey");
    const key = `k${"e".repeat(299)}`;
    const { entity } = await syncInto(w, namespace, new RecordsSource({ items: [{ id: "short", v: 1 }, { id: key, v: 2 }] }));
    const error = entity("items").error ?? "";
    expect(entity("items").status).toBe("failed");
    expect(error.split("\n")).toHaveLength(1);
    expect(error).toMatch(/items/);
    expect(error).toContain("kee");
    expect(error).toMatch(/255/);
  });

  it("a record larger than max_allowed_packet fails with one line naming the record and the limit, not a bare connection error", async () => {
    const namespace = ns("packet");
    const big = "x".repeat(17 * 1024 * 1024);
    const { entity } = await syncInto(w, namespace, new RecordsSource({ items: [{ id: 1, v: "small" }, { id: 2, v: big }] }));
    const error = entity("items").error ?? "";
    expect(entity("items").status).toBe("failed");
    expect(error.split("\n")).toHaveLength(1);
    expect(error).toMatch(/id[= ]+2/);
    expect(error).toMatch(/max_allowed_packet/);
    expect(error).not.toMatch(/ECONNRESET/);
    // The destination is still usable: the next chunk of small records lands.
    const after = await syncInto(w, namespace, new RecordsSource({ items: [{ id: 3, v: "after" }] }));
    expect(after.result.status).toBe("succeeded");
  }, 120_000);

  it("a value nested past MariaDB's 31 JSON levels (Mako allows 64) lands: the deeper part is kept as its JSON text", async () => {
    const namespace = ns("deepjson");
    let deep: unknown = "leaf";
    for (let i = 0; i < 40; i++) deep = { a: deep };
    const { result, entity } = await syncInto(w, namespace, new RecordsSource({ items: [{ id: 1, deep, shallow: { b: [1, 2] } }] }));
    expect(result.status, entity("items").error).toBe("succeeded");
    const [row] = await rowsOf(w, namespace, "items");
    expect(row.shallow).toEqual({ b: [1, 2] });
    // Walk down the stored JSON: objects as far as MariaDB allows, then the rest as text.
    let at: unknown = row.deep;
    let levels = 0;
    while (typeof at === "object" && at !== null) {
      at = (at as { a: unknown }).a;
      levels++;
    }
    expect(levels).toBeGreaterThanOrEqual(20);
    expect(levels).toBeLessThan(40);
    let rest = JSON.parse(at as string) as unknown;
    for (let i = levels; i < 40; i++) rest = (rest as { a: unknown }).a;
    expect(rest).toBe("leaf");
  });
});
