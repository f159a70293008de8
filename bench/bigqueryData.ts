// The BigQuery benchmark's source: a fake BigQuery holding `bench.events` (n seeded rows of
// the common column types) and a service account key file for it, written to a temp file so
// the case processes can read it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startBigQueryFake, type BigQueryFake, type FieldSchema } from "./fakes/bigquery";
import { seededHash, seededPick } from "./fakes/fakeServer";

export const BENCH_QUERY = "SELECT * FROM bench.events";

const FIELDS: FieldSchema[] = [
  { name: "id", type: "INTEGER" },
  { name: "user_email", type: "STRING" },
  { name: "kind", type: "STRING" },
  { name: "amount", type: "NUMERIC" },
  { name: "score", type: "FLOAT" },
  { name: "is_test", type: "BOOLEAN" },
  { name: "created_at", type: "TIMESTAMP" },
  { name: "day", type: "DATE" },
  { name: "tags", type: "STRING", mode: "REPEATED" },
  { name: "device", type: "RECORD", fields: [{ name: "os", type: "STRING" }, { name: "version", type: "INTEGER" }] },
];
const KINDS = ["page_view", "signup", "purchase", "refund", "login"];
const OS = ["ios", "android", "macos", "windows", "linux"];
const START_MICROS = 1_704_067_200_000_000n; // 2024-01-01

function row(i: number) {
  const h = seededHash(i, 42, 1);
  return {
    id: i,
    user_email: `user${h % 50_000}@example.com`,
    kind: seededPick(KINDS, i, 42, 2),
    amount: `${h % 100_000}.${String(h % 100).padStart(2, "0")}`,
    score: (h % 10_000) / 97,
    is_test: h % 13 === 0,
    created_at: START_MICROS + BigInt(i) * 1_000_123n,
    day: `2024-0${1 + (h % 9)}-1${h % 10}`,
    tags: h % 3 === 0 ? [] : ["beta", seededPick(KINDS, i, 42, 3)],
    device: { os: seededPick(OS, i, 42, 4), version: h % 20 },
  };
}

export async function startBigQueryBench(n: number): Promise<{ fake: BigQueryFake; keyFile: string; close(): Promise<void> }> {
  const fake = await startBigQueryFake({ pendingPolls: 1 });
  fake.createTable("bench.events", FIELDS, Array.from({ length: n }, (_, i) => row(i + 1)));
  const dir = mkdtempSync(join(tmpdir(), "mako-bq-bench-"));
  const keyFile = join(dir, "key.json");
  writeFileSync(keyFile, JSON.stringify(fake.createKey()), { mode: 0o600 });
  return {
    fake,
    keyFile,
    async close() {
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
