import type pg from "pg";
import type { DataRecord } from "../../connectors/base/types";
import { DELETED_AT, VERSION } from "../Destination";
import { versionValue } from "../rowVersions";
import { STORED } from "./merge";
import { nextId, type PgWriter } from "./writer";
import { overflowText } from "./types";

/** Upserts `rowsPerStatement` rows per INSERT … VALUES … ON CONFLICT DO UPDATE; the rows inserted or replaced. */
export async function multiRowUpsert(client: pg.PoolClient, writer: PgWriter, records: DataRecord[], syncedAt: string): Promise<number> {
  const { fields, convert, width, byField, overflow, versioned } = writer;
  let changed = 0;
  const n = fields.length;
  for (let start = 0; start < records.length; start += writer.rowsPerStatement) {
    const end = Math.min(records.length, start + writer.rowsPerStatement);
    const rows = end - start;
    const values: unknown[] = new Array(rows * width);
    let p = 0;
    for (let r = start; r < end; r++) {
      const record = records[r];
      for (let j = 0; j < n; j++) values[p++] = convert[j](record[fields[j]]);
      values[p++] = syncedAt;
      values[p++] = record[DELETED_AT] ?? null;
      if (overflow) values[p++] = overflowText(record, byField);
      if (versioned) values[p++] = versionValue(record[VERSION]);
    }
    const statement = statementFor(writer, rows);
    // Full-size statements are prepared once per connection; a chunk's remainder is not worth it.
    const result = await client.query(
      rows === writer.rowsPerStatement ? { name: statement.name, text: statement.text, values } : { text: statement.text, values },
    );
    changed += result.rowCount ?? 0;
  }
  return changed;
}

function statementFor(writer: PgWriter, rows: number): { name: string; text: string } {
  let statement = writer.statements.get(rows);
  if (statement) return statement;
  const tuples: string[] = new Array(rows);
  for (let r = 0, p = 1; r < rows; r++) {
    const params: string[] = new Array(writer.width);
    for (let j = 0; j < writer.width; j++) params[j] = `$${p++}`;
    tuples[r] = `(${params.join(",")})`;
  }
  statement = { name: `mako_upsert_${nextId()}`, text: `INSERT INTO ${writer.table} AS ${STORED} (${writer.list}) VALUES ${tuples.join(",")} ${writer.onConflict}` };
  writer.statements.set(rows, statement);
  return statement;
}
