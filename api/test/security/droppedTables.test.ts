// Finding 12: the destination's tables are the truth. A table dropped by hand (people do, to
// force a reload), or one that lost Mako's columns, beside a surviving checkpoint makes the next
// sync warn, naming the table, and reload the entity in full, on all four destinations.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataRecord } from "../../src/connectors/base/types";
import { KINDS, type Warehouse, RecordsSource, openWarehouse, rowsOf, syncInto, uniqueNamespace } from "./destinationKit";

const at = (i: number) => new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString();
const users = (n: number): DataRecord[] => Array.from({ length: n }, (_, i) => ({ id: i + 1, name: `user ${i + 1}`, updated_at: at(i) }));

/** An incremental source: after a completed pass it asks only for what changed since the mark. */
const source = (records: DataRecord[]) => new RecordsSource({ users: () => records }, { users: { cursorField: "updated_at" } });

class Incremental extends RecordsSource {
  async fetchEntityChunk(o: Parameters<RecordsSource["fetchEntityChunk"]>[0]) {
    const all = (this.entities.users as () => DataRecord[])();
    const since = o.since;
    const records = since === undefined ? all : all.filter((r) => String(r.updated_at) > String(since));
    const offset = o.state?.offset ?? 0;
    const page = records.slice(offset, offset + o.batchSize);
    if (page.length > 0) await o.onBatch(page);
    return { offset: offset + page.length, hasMore: offset + page.length < records.length };
  }
}
const incremental = (records: DataRecord[]) => new Incremental({ users: () => records }, { users: { cursorField: "updated_at" } });

describe.each(KINDS)("a table changed by hand on %s", (kind) => {
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

  it("DROP TABLE between syncs: the next sync warns, naming the table, and reloads the entity in full", async () => {
    const namespace = ns("dropped");
    const first = await syncInto(w, namespace, incremental(users(30)), { batchSize: 10 });
    expect(first.result.status).toBe("succeeded");
    // Nothing new: an incremental sync reads nothing (the proof the mark is trusted otherwise).
    const quiet = await syncInto(w, namespace, incremental(users(30)), { batchSize: 10 });
    expect(quiet.entity("users").records).toBe(0);

    await w.sql(`DROP TABLE ${w.table(namespace, "users")}`);
    const after = await syncInto(w, namespace, incremental(users(30)), { batchSize: 10 });
    expect(after.result.status, after.entity("users").error).toBe("succeeded");
    const warning = after.logs.find((l) => l.startsWith("warn:") && /is gone|missing/.test(l));
    expect(warning, after.logs.join("\n")).toBeDefined();
    expect(warning).toContain("users");
    expect(after.entity("users").records).toBe(30);
    expect(await rowsOf(w, namespace, "users")).toHaveLength(30);
    // And the mark is back: the following sync reads nothing again, and says nothing.
    const next = await syncInto(w, namespace, incremental(users(30)), { batchSize: 10 });
    expect(next.entity("users").records).toBe(0);
    expect(next.logs.filter((l) => l.startsWith("warn:"))).toEqual([]);
  });

  it("a table that lost _mako_deleted_at: the next sync warns and reloads in full into a table of the right shape", async () => {
    const namespace = ns("misshapen");
    expect((await syncInto(w, namespace, incremental(users(12)), { batchSize: 5 })).result.status).toBe("succeeded");
    await w.sql(`ALTER TABLE ${w.table(namespace, "users")} DROP COLUMN _mako_deleted_at`);
    const after = await syncInto(w, namespace, incremental(users(12)), { batchSize: 5 });
    expect(after.result.status, after.entity("users").error).toBe("succeeded");
    const warning = after.logs.find((l) => l.startsWith("warn:") && l.includes("_mako_deleted_at"));
    expect(warning, after.logs.join("\n")).toBeDefined();
    expect(after.entity("users").records).toBe(12);
    const rows = await rowsOf(w, namespace, "users");
    expect(rows).toHaveLength(12);
    expect(rows.every((r) => r._mako_deleted_at === null)).toBe(true);
    const [info] = await w.destination.listTables(namespace);
    expect(info.columns.map((c) => c.name)).toEqual(expect.arrayContaining(["_mako_synced_at", "_mako_deleted_at"]));
  });

  it("a checkpoint mid-pass whose table was dropped is not resumed: the pass starts over", async () => {
    const namespace = ns("midpass");
    let fail = true;
    const records = users(20);
    const flaky = new RecordsSource({ users: () => records }, { users: { cursorField: "updated_at" } });
    const original = flaky.fetchEntityChunk.bind(flaky);
    flaky.fetchEntityChunk = async (o) => {
      if (fail && (o.state?.offset ?? 0) >= 10) throw Object.assign(new Error("source down"), { retryable: false });
      return original(o);
    };
    const first = await syncInto(w, namespace, flaky, { batchSize: 5, maxIterations: 1 });
    expect(first.entity("users").status).toBe("failed");
    await w.sql(`DROP TABLE ${w.table(namespace, "users")}`);
    fail = false;
    const after = await syncInto(w, namespace, source(records), { batchSize: 5, maxIterations: 1 });
    expect(after.result.status, after.entity("users").error).toBe("succeeded");
    expect(after.entity("users").resumed).toBe(false);
    expect(await rowsOf(w, namespace, "users")).toHaveLength(20);
  });
});
