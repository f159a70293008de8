// DuckDB's bulk path: each chunk is appended into a temporary staging table, then merged.

import type { DuckDBConnection } from "@duckdb/node-api";
import { DELETED_AT, SYNCED_AT, VERSION } from "../Destination";
import type { RowWriter } from "../dialect";
import { mergePlan } from "../mergePlan";
import { versionValue } from "../rowVersions";
import { qualified } from "../tables";
import { type Column, OVERFLOW, overflowOf } from "../tableShape";
import { mergeSql } from "./merge";
import { quote } from "./naming";
import { APPEND, type Append, SQL_TYPE } from "./types";

export interface DuckdbWriter {
  fields: string[];
  byField: Map<string, Column>;
  overflow: boolean;
  versioned: boolean;
  append: Append[];
  staging: string;
  merge: string;
}

let stagingIds = 0;

export const duckdbRows: RowWriter<DuckDBConnection, DuckdbWriter> = {
  /** A staging table shaped like the target (deletion time as text, cast in the merge). */
  async prepare(connection, table, shape) {
    const staging = `_mako_stage_${++stagingIds}`;
    const defs = shape.columns.map((c) => `${quote(c.name)} ${SQL_TYPE[c.type]}`);
    defs.push(`${quote(DELETED_AT)} VARCHAR`); // _mako_synced_at is the chunk's: a parameter of the merge
    if (shape.overflow) defs.push(`${quote(OVERFLOW)} JSON`);
    if (shape.versioned) defs.push(`${quote(VERSION)} BIGINT`);
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${quote(staging)} (${defs.join(", ")})`);
    return {
      fields: shape.columns.map((c) => c.field),
      byField: new Map(shape.columns.map((c) => [c.field, c])),
      overflow: shape.overflow,
      versioned: shape.versioned,
      append: shape.columns.map((c) => APPEND[c.type]),
      staging,
      merge: mergeSql(qualified(quote, table.name), `temp.main.${quote(staging)}`, mergePlan(table, shape)),
    };
  },

  async write(connection, _table, writer, records, syncedAt) {
    const { fields, append, byField, overflow, versioned } = writer;
    const n = fields.length;
    const appender = await connection.createAppender(writer.staging, "main", "temp");
    try {
      for (const record of records) {
        for (let j = 0; j < n; j++) append[j](appender, record[fields[j]]);
        const deleted = record[DELETED_AT];
        if (deleted == null) appender.appendNull();
        else appender.appendVarchar(deleted instanceof Date ? deleted.toISOString() : String(deleted));
        if (overflow) {
          const extra = overflowOf(record, byField);
          if (extra === null) appender.appendNull();
          else appender.appendVarchar(extra);
        }
        if (versioned) {
          const version = versionValue(record[VERSION]);
          if (version === null) appender.appendNull();
          else appender.appendBigInt(BigInt(version));
        }
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    // Counts inserted and updated rows; a conflict the guard refused is in neither.
    const merged = await connection.run(writer.merge, [syncedAt]);
    await connection.run(`DELETE FROM temp.main.${quote(writer.staging)}`);
    return Number(merged.rowsChanged);
  },

  async markUnseenDeleted(connection, table, before, at) {
    const result = await connection.run(
      `UPDATE ${qualified(quote, table.name)} SET ${quote(DELETED_AT)} = CAST($1 AS TIMESTAMPTZ)
       WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < CAST($2 AS TIMESTAMPTZ)`,
      [at, before],
    );
    return result.rowsChanged;
  },
};
