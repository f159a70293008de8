// The behaviour every server destination (PostgreSQL, MySQL, DuckDB) must show, run against the
// real database. Each test file calls describeServerDestination with its own opener.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataRecord } from "../../src/connectors/base/types";
import type { Destination, EntityCheckpoint, TableRef } from "../../src/destinations/Destination";
import type { DestinationKind } from "../../src/destinations/factory";

export type ServerDestination = Destination & { dropNamespace(namespace: string): Promise<void> };

export interface SuiteOptions {
  kind: DestinationKind;
  /** Tells two runs of the suite on one database apart (e.g. PostgreSQL's two bulk methods). */
  label?: string;
  url: string;
  open(): Promise<ServerDestination>;
  /** How U+0000 comes back: PostgreSQL cannot store it and replaces it with U+FFFD. */
  nul: "kept" | "replaced";
  /** DuckDB allows one process per file: the suite closes it while a child process writes. */
  singleProcess?: boolean;
}

let suites = 0;
const run = `t${process.pid}_${Date.now().toString(36)}`;
const CHILD = fileURLToPath(new URL("./writeChunksChild.ts", import.meta.url));

export function checkpoint(seq: number, records: number, extra: Partial<EntityCheckpoint> = {}): EntityCheckpoint {
  return {
    runId: "run-1",
    seq,
    mode: "incremental",
    since: null,
    passStartedAt: "2024-01-01T00:00:00.000Z",
    fetchState: { hasMore: true, offset: records },
    maxCursor: null,
    highWaterMark: null,
    records,
    ...extra,
  };
}

export function describeServerDestination(options: SuiteOptions): void {
  describe(`${options.kind} destination${options.label ? ` (${options.label})` : ""} (real server)`, () => {
    let d: ServerDestination;
    const namespaces = new Set<string>();
    const suite = ++suites;
    const ns = (name: string) => {
      const namespace = `${run}_${suite}_${name}`;
      namespaces.add(namespace);
      return namespace;
    };
    const write = (table: TableRef, records: DataRecord[], seq: number, extra: Partial<EntityCheckpoint> = {}, syncedAt = new Date().toISOString()) =>
      d.writeChunk({ table, primaryKey: ["id"], records, checkpoint: checkpoint(seq, seq * 10, extra), syncedAt });
    const rows = (table: TableRef) => d.readRows(table, { limit: 10_000, offset: 0 });

    beforeAll(async () => {
      d = await options.open(); // an unreachable server fails the suite here, loudly
    });
    afterAll(async () => {
      if (!d) return;
      for (const namespace of namespaces) await d.dropNamespace(namespace);
      await d.close();
    });

    it("creates columns from records, adds new fields and widens changed types without losing values", async () => {
      const t = { namespace: ns("evolve"), entity: "items" };
      await write(t, [{ id: 1, a: 1, b: true, c: null }], 1);
      await write(t, [{ id: 2, a: 1.5, b: false, c: "now set" }], 2);
      await write(t, [{ id: 3, a: "text", b: 7, d: { nested: true } }], 3);
      await write(t, [{ id: 4, a: 2, d: "plain string" }], 4);
      const got = await rows(t);
      expect(got.map((r) => r.id)).toEqual([1, 2, 3, 4]);
      expect(Number(got[0].a)).toBe(1);
      expect(Number(got[1].a)).toBe(1.5);
      expect(got[2].a).toBe("text");
      expect(Number(got[3].a)).toBe(2);
      expect(got[1].c).toBe("now set");
      expect(got.map((r) => Number(r.b ?? NaN))).toEqual([1, 0, 7, NaN]);
      expect(got[2].d).toEqual({ nested: true });
      expect(got[3].d).toBe("plain string");
      const [info] = await d.listTables(t.namespace);
      expect(info.rows).toBe(4);
      expect(info.columns.map((c) => c.name)).toEqual(
        expect.arrayContaining(["id", "a", "b", "c", "d", "_mako_synced_at", "_mako_deleted_at"]),
      );
      expect((await d.loadCheckpoint(t))?.seq).toBe(4);
    });

    it("round-trips nested objects and arrays as JSON", async () => {
      const t = { namespace: ns("json"), entity: "docs" };
      const doc = { a: [1, { b: "x", c: [true, null, 2.5] }], empty: {}, list: [], unicode: "ünï 😀", quote: 'say "hi"\\' };
      await write(t, [{ id: 1, doc, tags: ["x", "y"] }], 1);
      const [row] = await rows(t);
      expect(row.doc).toEqual(doc);
      expect(row.tags).toEqual(["x", "y"]);
    });

    it("upserts on the primary key: writing the same records twice leaves the same rows", async () => {
      const t = { namespace: ns("upsert"), entity: "users" };
      const records = Array.from({ length: 50 }, (_, i) => ({ id: i + 1, name: `user ${i + 1}`, meta: { i } }));
      await write(t, records, 1);
      const first = await rows(t);
      await write(t, records, 2);
      const second = await rows(t);
      const strip = (rs: DataRecord[]) => rs.map(({ _mako_synced_at, ...r }) => r);
      expect(second).toHaveLength(50);
      expect(strip(second)).toEqual(strip(first));
      await write(t, [{ id: 3, name: "changed", meta: { i: 99 } }], 3);
      const third = await rows(t);
      expect(third).toHaveLength(50);
      expect(third[2]).toMatchObject({ id: 3, name: "changed", meta: { i: 99 } });
    });

    it("commits rows and checkpoint together: a chunk failing after its first rows leaves neither", async () => {
      const t = { namespace: ns("atomic"), entity: "events" };
      await write(t, [{ id: 0, v: "kept" }], 1);
      // 1,500 rows: the first 1,000-row statement succeeds, then a bad timestamp fails the chunk.
      const records: DataRecord[] = Array.from({ length: 1500 }, (_, i) => ({ id: i + 1, v: `row ${i}` }));
      records[1499]._mako_deleted_at = "not a timestamp";
      await expect(write(t, records, 2)).rejects.toThrow();
      const after = await rows(t);
      expect(after).toHaveLength(1);
      expect((await d.loadCheckpoint(t))?.seq).toBe(1);
      // The destination is still usable afterwards.
      await write(t, [{ id: 1, v: "next" }], 2);
      expect(await rows(t)).toHaveLength(2);
    });

    it("quotes identifiers: quotes, backticks and spaces in source, entity and field names", async () => {
      const t = { namespace: ns(`src "q" 's`), entity: 'my `ent"ity' };
      await write(t, [{ id: 1, 'we"ird col': "a", "it's `x`": "b", "trailing ": "c", "semi;colon--": "d" }], 1);
      const [row] = await rows(t);
      expect(Object.values(row)).toEqual(expect.arrayContaining(["a", "b", "c", "d"]));
      expect((await d.listTables(t.namespace))[0].entity).toBe(t.entity);
    });

    it("stores astral characters as they are and handles U+0000", async () => {
      const t = { namespace: ns("unicode"), entity: "texts" };
      await write(t, [{ id: 1, s: "nul:\u0000:end 😀𝄞", j: { k: "in json \u0000 😀" } }], 1);
      const [row] = await rows(t);
      const nul = options.nul === "kept" ? "\u0000" : "\uFFFD";
      expect(row.s).toBe(`nul:${nul}:end 😀𝄞`);
      expect(row.j).toEqual({ k: `in json ${nul} 😀` });
    });

    it("keeps fields beyond the column limit in the _mako_overflow JSON column (1,700 fields)", async () => {
      const t = { namespace: ns("wide"), entity: "wide" };
      const record: DataRecord = { id: 1 };
      for (let i = 0; i < 1700; i++) record[`field_${i}`] = i;
      await write(t, [record], 1);
      const [row] = await rows(t);
      const overflow = row._mako_overflow as Record<string, number>;
      expect(overflow).toBeTypeOf("object");
      const stored = { ...row, ...overflow };
      for (let i = 0; i < 1700; i++) expect(Number(stored[`field_${i}`])).toBe(i);
      // A second record with a new field goes to the overflow too, rather than failing.
      await write(t, [{ ...record, id: 2, another: "x" }], 2);
      const second = (await rows(t))[1];
      expect((second._mako_overflow as DataRecord).another).toBe("x");
    });

    it("soft-deletes a record arriving with _mako_deleted_at, and a normal upsert revives it", async () => {
      const t = { namespace: ns("softdel"), entity: "users" };
      await write(t, [{ id: 1, name: "a" }, { id: 2, name: "b" }], 1);
      await write(t, [{ id: 1, _mako_deleted_at: "2024-05-01T00:00:00.000Z" }], 2);
      let got = await rows(t);
      expect(got[0]._mako_deleted_at).not.toBeNull();
      expect(got[1]._mako_deleted_at).toBeNull();
      await write(t, [{ id: 1, name: "a again" }], 3);
      got = await rows(t);
      expect(got[0]).toMatchObject({ name: "a again", _mako_deleted_at: null });
    });

    it("full refresh: completeEntity marks rows not seen since the pass began as deleted", async () => {
      const t = { namespace: ns("refresh"), entity: "users" };
      await write(t, [{ id: 1 }, { id: 2 }, { id: 3 }], 1, {}, "2024-01-01T00:00:00.000Z");
      const passStartedAt = "2024-02-01T00:00:00.000Z";
      const pass = { mode: "full_refresh" as const, passStartedAt, runId: "run-2" };
      await write(t, [{ id: 1 }, { id: 2 }], 1, pass, "2024-02-01T00:00:05.000Z");
      const done = checkpoint(0, 2, { ...pass, fetchState: null, highWaterMark: "x" });
      const { deleted } = await d.completeEntity({
        table: t,
        primaryKey: ["id"],
        checkpoint: done,
        markUnseenDeletedBefore: passStartedAt,
        deletedAt: "2024-02-01T00:01:00.000Z",
      });
      expect(deleted).toBe(1);
      const got = await rows(t);
      expect(got.map((r) => r._mako_deleted_at !== null)).toEqual([false, false, true]);
      expect(await d.loadCheckpoint(t)).toEqual(done);
      await d.resetCheckpoint(t);
      expect(await d.loadCheckpoint(t)).toBeNull();
    });

    it("full refresh writes into a shadow: readers see the previous rows until the swap; a restarted pass resumes its shadow", async () => {
      const t = { namespace: ns("shadow"), entity: "users" };
      const old = "2024-01-01T00:00:00.000Z";
      await write(t, [{ id: 1, name: "a", score: 1 }, { id: 2, name: "b", score: 2 }, { id: 3, name: "c", score: 3 }], 1, {}, old);
      await write(t, [{ id: 4, _mako_deleted_at: "2024-01-01T00:00:05.000Z" }], 2, {}, old);
      const previous = await rows(t);
      const P1 = "2024-02-01T00:00:00.000Z";
      const pass = (extra: Partial<EntityCheckpoint> = {}) => ({ mode: "full_refresh" as const, passStartedAt: P1, runId: "run-2", ...extra });
      // A new field and a widening (integer → real) during the pass.
      await write(t, [{ id: 1, name: "a2", score: 1.5, extra: true }], 1, pass(), "2024-02-01T00:00:01.000Z");
      expect(await rows(t)).toEqual(previous);
      expect((await d.listTables(t.namespace)).map((info) => info.entity)).toEqual(["users"]);
      // The process restarts: the pass resumes into the same shadow.
      await d.close();
      d = await options.open();
      // A deletion carrying only its key keeps the other values of the live row it deletes.
      await write(t, [{ id: 3, name: "c2", score: 3 }, { id: 5, name: "e", score: 5 }, { id: 2, _mako_deleted_at: "2024-02-01T00:00:02.000Z" }], 2, pass(), "2024-02-01T00:00:02.000Z");
      expect(await rows(t)).toEqual(previous);

      const done = checkpoint(0, 3, pass({ fetchState: null }));
      const { deleted } = await d.completeEntity({ table: t, primaryKey: ["id"], checkpoint: done, markUnseenDeletedBefore: P1, deletedAt: "2024-02-01T00:01:00.000Z" });
      expect(deleted).toBe(0); // row 2 was deleted by the source, row 4 earlier
      const got = await rows(t);
      expect(got.map((r) => [r.id, r.name, r._mako_deleted_at !== null])).toEqual([
        [1, "a2", false],
        [2, "b", true],
        [3, "c2", false],
        [4, null, true],
        [5, "e", false],
      ]);
      expect(got[0].score).toBe(1.5);
      expect(got[1].score).toBe(2);
      expect(Boolean(got[0].extra)).toBe(true);
      expect(got[1].extra).toBeNull();
      expect(got[3]._mako_deleted_at).toEqual(previous[3]._mako_deleted_at); // a soft delete keeps its time
      expect(await d.loadCheckpoint(t)).toEqual(done);
      expect((await d.listTables(t.namespace)).map((info) => info.entity)).toEqual(["users"]);
      // The swapped-in table takes further writes with its evolved schema.
      await write(t, [{ id: 2, name: "b3", score: 2.5, extra: false }], 1, {}, "2024-02-15T00:00:00.000Z");
      expect((await rows(t))[1]).toMatchObject({ name: "b3", score: 2.5, _mako_deleted_at: null });

      // A pass abandoned after one chunk (id 9), then a new full refresh: id 9 never appears.
      await write(t, [{ id: 9, name: "stale", score: 9 }], 1, pass({ passStartedAt: "2024-03-01T00:00:00.000Z" }), "2024-03-01T00:00:01.000Z");
      await d.close();
      d = await options.open();
      const P3 = "2024-04-01T00:00:00.000Z";
      await write(t, [{ id: 1, name: "a3", score: 1 }], 1, pass({ passStartedAt: P3 }), "2024-04-01T00:00:01.000Z");
      await d.completeEntity({
        table: t,
        primaryKey: ["id"],
        checkpoint: checkpoint(0, 1, pass({ passStartedAt: P3, fetchState: null })),
        markUnseenDeletedBefore: P3,
        deletedAt: "2024-04-01T00:01:00.000Z",
      });
      expect((await rows(t)).map((r) => [r.id, r._mako_deleted_at === null])).toEqual([
        [1, true],
        [2, false],
        [3, false],
        [4, false],
        [5, false],
      ]);
    });

    it("full refresh SIGKILLed mid-pass leaves the live table untouched, then resumes and swaps", { timeout: 120_000 }, async () => {
      const namespace = ns("killrefresh");
      const t = { namespace, entity: "users" };
      const perChunk = 500;
      const chunks = 8;
      await write(t, [{ id: 1, name: "old 1", profile: { seq: 0, tags: [] }, score: 0.5 }, { id: 999_999, name: "gone", profile: null, score: 1 }], 1, {}, "2024-01-01T00:00:00.000Z");
      const previous = await rows(t);
      if (options.singleProcess) await d.close();
      await runChild(options, namespace, perChunk, chunks, 2, "full_refresh");
      if (options.singleProcess) d = await options.open();
      const saved = await d.loadCheckpoint(t);
      expect(saved?.mode).toBe("full_refresh");
      expect(saved!.fetchState).not.toBeNull();
      expect(await rows(t)).toEqual(previous);

      if (options.singleProcess) await d.close();
      await runChild(options, namespace, perChunk, chunks, null, "full_refresh");
      if (options.singleProcess) d = await options.open();
      const done = await rows(t);
      expect(done).toHaveLength(chunks * perChunk + 1);
      expect(done.filter((r) => r._mako_deleted_at !== null).map((r) => r.id)).toEqual([999_999]);
      expect(done[0].name).toBe("user 1");
      expect((await d.loadCheckpoint(t))?.fetchState).toBeNull();
      expect((await d.listTables(namespace)).map((info) => info.entity)).toEqual(["users"]);
    });

    it("returns only a checkpoint whose every earlier chunk committed, when chunks commit out of order", async () => {
      const t = { namespace: ns("order"), entity: "users" };
      await write(t, [{ id: 2 }], 2);
      expect(await d.loadCheckpoint(t)).toBeNull();
      await write(t, [{ id: 1 }], 1);
      expect((await d.loadCheckpoint(t))?.seq).toBe(2);
      await write(t, [{ id: 3 }], 3);
      expect((await d.loadCheckpoint(t))?.seq).toBe(3);
    });

    it("writes chunks that add different columns on parallel connections", async () => {
      const t = { namespace: ns("parallel"), entity: "users" };
      await write(t, [{ id: 0, base: 1 }], 1);
      const chunk = (seq: number, field: string) =>
        Array.from({ length: 300 }, (_, i) => ({ id: seq * 1000 + i, base: i, [field]: { seq }, shared: seq === 2 ? i : `s${i}` }));
      await Promise.all([write(t, chunk(2, "left"), 2), write(t, chunk(3, "right"), 3)]);
      const got = await rows(t);
      expect(got).toHaveLength(601);
      expect(got.find((r) => r.id === 2000)?.left).toEqual({ seq: 2 });
      expect(got.find((r) => r.id === 3000)?.right).toEqual({ seq: 3 });
      expect((await d.loadCheckpoint(t))?.seq).toBe(3);
    });

    it("keeps rows and checkpoint consistent when the writing process is SIGKILLed mid-sync, then resumes", { timeout: 120_000 }, async () => {
      const namespace = ns("kill");
      const t = { namespace, entity: "users" };
      const perChunk = 2000;
      const chunks = 12;
      if (options.singleProcess) await d.close();
      await runChild(options, namespace, perChunk, chunks, 3);
      if (options.singleProcess) d = await options.open();
      const saved = await d.loadCheckpoint(t);
      const afterKill = await d.readRows(t, { limit: 100_000, offset: 0 });
      expect(saved, "at least the chunks reported committed are there").not.toBeNull();
      const ids = new Set(afterKill.map((r) => r.id));
      for (let id = 1; id <= saved!.records; id++) expect(ids.has(id)).toBe(true);
      // Rows beyond the checkpoint can only be whole later chunks (one in flight per extra connection).
      expect(afterKill.length % perChunk).toBe(0);
      expect(afterKill.length).toBeLessThanOrEqual(saved!.records + perChunk * (d.writeConcurrency - 1));
      expect(saved!.records).toBeLessThan(chunks * perChunk);

      if (options.singleProcess) await d.close();
      await runChild(options, namespace, perChunk, chunks, null);
      if (options.singleProcess) d = await options.open();
      const done = await d.readRows(t, { limit: 100_000, offset: 0 });
      expect(done).toHaveLength(chunks * perChunk);
      expect((await d.loadCheckpoint(t))?.records).toBe(chunks * perChunk);
    });
  });
}

/** Runs writeChunksChild.ts; with `killAfter`, SIGKILLs it right after that many chunks committed. */
function runChild(
  options: SuiteOptions,
  namespace: string,
  perChunk: number,
  chunks: number,
  killAfter: number | null,
  mode: "incremental" | "full_refresh" = "incremental",
): Promise<void> {
  return new Promise((resolve, reject) => {
    // node --import tsx rather than npx: SIGKILL must hit the process that writes, not a wrapper.
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, options.kind, options.url, namespace, String(perChunk), String(chunks), mode], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    let killed = false;
    child.stdout.on("data", (data: Buffer) => {
      out += data.toString();
      const committed = out.match(/committed \d+/g)?.length ?? 0;
      if (killAfter !== null && !killed && committed >= killAfter) {
        killed = true;
        // A few milliseconds later the next chunk is mid-write.
        setTimeout(() => child.kill("SIGKILL"), 15);
      }
    });
    child.stderr.on("data", (data: Buffer) => (err += data.toString()));
    child.on("exit", (code, signal) => {
      if (killAfter !== null && signal === "SIGKILL") resolve();
      else if (killAfter === null && code === 0 && out.includes("done")) resolve();
      else reject(new Error(`child exited with ${code ?? signal}: ${err || out}`));
    });
  });
}
