// The version every pulled row carries: the time just before its page was requested, unless the
// connector ranked the record with withVersion; a source's own `_mako_version` field is data.
// The engine into the real SQLite destination.
import { afterEach, describe, expect, it } from "vitest";
import { withVersion } from "../../src/connectors/base";
import type { DataRecord } from "../../src/connectors/base/types";
import { openWarehouse, RecordsSource, rowsOf, syncInto, type Warehouse } from "../security/destinationKit";

let w: Warehouse | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const micros = () => Date.now() * 1000;

describe("row versions on pulled records", () => {
  it("stamps the time of the read, keeps withVersion's, and moves a source's _mako_version aside", async () => {
    w = await openWarehouse("sqlite");
    const before = micros();
    const first: DataRecord[] = [{ id: 1, name: "one", _mako_version: "from the source" }, withVersion({ id: 2, name: "two" }, 5_000_000), { id: 3, name: "three" }];
    const { result } = await syncInto(w, "v", new RecordsSource({ items: first }));
    const after = micros();
    expect(result.status).toBe("succeeded");
    const rows = await rowsOf(w, "v", "items");
    expect(rows[0]._source__mako_version).toBe("from the source");
    for (const r of [rows[0], rows[2]]) {
      expect(Number(r._mako_version)).toBeGreaterThanOrEqual(before);
      expect(Number(r._mako_version)).toBeLessThanOrEqual(after);
    }
    expect(Number(rows[1]._mako_version)).toBe(5_000_000);

    // Pulled again: an older withVersion loses to the stored row; the same objects handed again
    // (a connector reusing them) are stamped afresh, their earlier stamp not taken for source data.
    const again = [first[0], withVersion({ id: 2, name: "older" }, 4_000_000), first[2]];
    const second = await syncInto(w, "v", new RecordsSource({ items: again }));
    expect(second.result.status).toBe("succeeded");
    const now = await rowsOf(w, "v", "items");
    expect(now[1]).toMatchObject({ name: "two" });
    expect(Number(now[1]._mako_version)).toBe(5_000_000);
    expect(now[0]._source__mako_version).toBe("from the source");
    expect(Number(now[0]._mako_version)).toBeGreaterThanOrEqual(after);
    expect(Number(now[2]._mako_version)).toBeGreaterThanOrEqual(after);
    expect(now[2]._source__mako_version ?? null).toBeNull();
    expect(Object.keys(now[0]).filter((k) => k.includes("_mako_version")).sort()).toEqual(["_mako_version", "_source__mako_version"]);
  });

  it("withVersion refuses what is not a whole number of microseconds", () => {
    expect(() => withVersion({ id: 1 }, 1.5)).toThrow(/not a whole number of microseconds/);
    expect(() => withVersion({ id: 1 }, -1)).toThrow(/withVersion/);
  });
});
