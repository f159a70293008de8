// SQLite's bulk path: prepared multi-row upserts, one call into SQLite per block of rows.

import type Database from "better-sqlite3";
import type { DataRecord } from "../../connectors/base/types";
import { DELETED_AT, SYNCED_AT, VERSION } from "../Destination";
import type { RowWriter } from "../dialect";
import { mergePlan } from "../mergePlan";
import { versionValue } from "../rowVersions";
import { type Column, overflowOf } from "../tableShape";
import { upsertSql } from "./merge";
import { quote } from "./naming";
import { CONVERT } from "./types";

type DB = Database.Database;

export interface SqliteWriter {
  upsert: Database.Statement;
  upsertBlock: Database.Statement;
  rowsPerBlock: number;
  columns: Column[];
  byField: Map<string, Column>;
  overflow: boolean;
  versioned: boolean;
  convert: Array<(value: unknown) => unknown>;
}

export const sqliteRows: RowWriter<DB, SqliteWriter> = {
  prepare(db, table, shape) {
    const plan = mergePlan(table, shape);
    const statement = (rows: number) => db.prepare(upsertSql(table.name.name, plan, rows));
    // SQLite binds at most 32766 parameters per statement.
    const rowsPerBlock = Math.max(1, Math.min(64, Math.floor(32_000 / plan.columns.length)));
    const upsert = statement(1);
    return {
      upsert,
      upsertBlock: rowsPerBlock > 1 ? statement(rowsPerBlock) : upsert,
      rowsPerBlock,
      columns: shape.columns,
      byField: new Map(shape.columns.map((c) => [c.field, c])),
      overflow: shape.overflow,
      versioned: shape.versioned,
      convert: shape.columns.map((c) => CONVERT[c.type]),
    };
  },

  write(_db, _table, writer, records, syncedAt) {
    const { columns, overflow, versioned, convert, byField } = writer;
    const n = columns.length;
    const width = n + 2 + (overflow ? 1 : 0) + (versioned ? 1 : 0);
    const block = writer.rowsPerBlock;
    const blockValues: unknown[] = new Array(width * block);
    const rowValues: unknown[] = new Array(width);
    let i = 0;
    // Rows inserted or replaced: an upsert the guard refused changes nothing, and counts nothing.
    let changed = 0;
    const fill = (values: unknown[], at: number, record: DataRecord) => {
      for (let j = 0; j < n; j++) values[at + j] = convert[j](record[columns[j].field]);
      let p = at + n;
      values[p++] = syncedAt;
      values[p++] = (record[DELETED_AT] as string | undefined) ?? null;
      if (overflow) values[p++] = overflowOf(record, byField);
      if (versioned) values[p] = versionValue(record[VERSION]);
    };
    for (; i + block <= records.length; i += block) {
      for (let r = 0; r < block; r++) fill(blockValues, r * width, records[i + r]);
      changed += writer.upsertBlock.run(blockValues).changes;
    }
    for (; i < records.length; i++) {
      fill(rowValues, 0, records[i]);
      changed += writer.upsert.run(rowValues).changes;
    }
    return changed;
  },

  markUnseenDeleted(db, table, before, at) {
    return db
      .prepare(`UPDATE ${quote(table.name.name)} SET ${quote(DELETED_AT)} = ? WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < ?`)
      .run(at, before).changes;
  },
};
