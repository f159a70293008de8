// MySQL's bulk path: multi-row INSERT … ON DUPLICATE KEY UPDATE of ~1,000 rows, cut shorter to
// stay under max_allowed_packet. A row the server cannot take (a text key past VARCHAR(255), a
// row larger than the packet) fails the chunk with one line naming the record and the limit.

import mysql from "mysql2/promise";
import { DELETED_AT, SYNCED_AT, VERSION } from "../Destination";
import type { RowWriter, Table } from "../dialect";
import { mergePlan } from "../mergePlan";
import { versionValue } from "../rowVersions";
import { type Column, overflowOf } from "../tableShape";
import type { ServerLimits } from "./catalog";
import { upsertSql } from "./merge";
import { quote } from "./naming";
import { KEY_TEXT_CHARS, type Converter, converters, toDatetime, withinJsonDepth } from "./types";

type Conn = mysql.PoolConnection;

/** Rows per INSERT … ON DUPLICATE KEY UPDATE (10,000-row statements measured ~20% slower). */
const ROWS_PER_STATEMENT = 1000;
/** UTF-8 bytes per UTF-16 code unit, at most: a statement's size is estimated from string lengths. */
const BYTES_PER_UNIT = 3;

export interface MysqlWriter {
  table: Table;
  fields: string[];
  byField: Map<string, Column>;
  overflow: boolean;
  versioned: boolean;
  convert: Converter[];
  /** Positions (in `fields`) of key columns that are VARCHAR(255). */
  textKeys: number[];
  head: string;
  tuple: string;
  tail: string;
}

export function mysqlRows(limits: ServerLimits): RowWriter<Conn, MysqlWriter> {
  const convert = converters(limits.jsonDepth);
  // The overflow column's object is one level itself.
  const fitDepth = (extra: Record<string, unknown>) => withinJsonDepth(extra, limits.jsonDepth);
  const overflowText = (record: Record<string, unknown>, byField: Map<string, Column>) => overflowOf(record, byField, fitDepth);
  return {
    prepare(_conn, table, shape) {
      const fields = shape.columns.map((c) => c.field);
      const isTextKey = (c: Column) => table.primaryKey.includes(c.field) && (c.type === "text" || c.type === "json");
      return {
        table,
        fields,
        byField: new Map(shape.columns.map((c) => [c.field, c])),
        overflow: shape.overflow,
        versioned: shape.versioned,
        convert: shape.columns.map((c) => convert[c.type]),
        textKeys: shape.columns.flatMap((c, i) => (isTextKey(c) ? [i] : [])),
        ...upsertSql(table.name.name, mergePlan(table, shape)),
      };
    },

    async write(conn, _table, writer, records, syncedAt) {
      const { fields, convert, byField, overflow, versioned, textKeys } = writer;
      const n = fields.length;
      const synced = toDatetime(syncedAt);
      const statementBytes = writer.head.length + writer.tail.length;
      let values: unknown[] = [];
      let rows = 0;
      let bytes = 0;
      let changed = 0;
      const flush = async () => {
        const sql = writer.head + new Array(rows).fill(writer.tuple).join(",") + writer.tail;
        const [result] = await conn.query<mysql.ResultSetHeader>(sql, values);
        changed += changedRows(result, rows);
        values = [];
        rows = 0;
        bytes = 0;
      };
      for (const record of records) {
        const start = values.length;
        let rowBytes = 8 * n;
        for (let j = 0; j < n; j++) {
          const v = convert[j](record[fields[j]]);
          if (typeof v === "string") rowBytes += v.length * BYTES_PER_UNIT;
          values.push(v);
        }
        for (const j of textKeys) checkKeyLength(writer, record, values[start + j]);
        values.push(synced, toDatetime(record[DELETED_AT]));
        if (overflow) {
          const extra = overflowText(record, byField);
          if (extra) rowBytes += extra.length * BYTES_PER_UNIT;
          values.push(extra);
        }
        if (versioned) values.push(versionValue(record[VERSION]));
        if (rowBytes + statementBytes > limits.maxStatementBytes) checkRowSize(writer, record, values.slice(start), limits.maxPacketBytes);
        if (rows > 0 && bytes + rowBytes > limits.maxStatementBytes) {
          // This row would make the statement too large: send the rows before it first.
          const row = values.splice(start);
          await flush();
          values = row;
        }
        rows++;
        bytes += rowBytes;
        if (rows >= ROWS_PER_STATEMENT || bytes >= limits.maxStatementBytes) await flush();
      }
      if (rows > 0) await flush();
      return changed;
    },

    async markUnseenDeleted(conn, table, before, at) {
      const [result] = await conn.query<mysql.ResultSetHeader>(
        `UPDATE ${quote(table.name.name)} SET ${quote(DELETED_AT)} = ? WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < ?`,
        [toDatetime(at), toDatetime(before)],
      );
      return result.affectedRows;
    },
  };
}

/**
 * Rows an ON DUPLICATE KEY UPDATE inserted or replaced. Without CLIENT_FOUND_ROWS (see
 * MysqlDestination) MySQL counts 1 per insert and 2 per changed row, 0 for a row left as it was:
 * the guard refused it, or it was identical already (an equal version re-applied in the same
 * second), which is counted as skipped too. A multi-row statement's info line says how many of
 * its rows met a stored one ("Duplicates: D").
 */
function changedRows(result: mysql.ResultSetHeader, rows: number): number {
  const duplicates = Number(/Duplicates:\s*(\d+)/.exec(result.info ?? "")?.[1] ?? NaN);
  if (Number.isNaN(duplicates)) return Math.min(rows, result.affectedRows); // one row: no info line
  const inserted = rows - duplicates;
  return inserted + Math.max(0, (result.affectedRows - inserted) / 2);
}

/** A text key longer than its VARCHAR(255) column: MySQL would say only "Data too long for column". */
function checkKeyLength(writer: MysqlWriter, record: Record<string, unknown>, value: unknown): void {
  if (typeof value !== "string" || value.length <= KEY_TEXT_CHARS || [...value].length <= KEY_TEXT_CHARS) return;
  throw new Error(
    `entity "${writer.table.entity.entity}": record ${describeKey(writer, record)} has a text key of ${[...value].length} characters; ` +
      `MySQL keys hold at most ${KEY_TEXT_CHARS} (VARCHAR(${KEY_TEXT_CHARS}) primary key)`,
  );
}

/** A row larger than max_allowed_packet: the server would drop the connection with no word of which. */
function checkRowSize(writer: MysqlWriter, record: Record<string, unknown>, row: unknown[], maxPacketBytes: number): void {
  const size = Buffer.byteLength(writer.head) + Buffer.byteLength(mysql.format(writer.tuple, row as mysql.SqlValue[])) + Buffer.byteLength(writer.tail);
  if (size <= maxPacketBytes) return;
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
  throw new Error(
    `entity "${writer.table.entity.entity}": record ${describeKey(writer, record)} is ${mb(size)} as an INSERT, more than the server's ` +
      `max_allowed_packet (${mb(maxPacketBytes)}); raise max_allowed_packet on the MySQL server to take it`,
  );
}

/** `id=42`, `a=1, b="x"`: the record's key as an error names it, long values cut. */
function describeKey(writer: MysqlWriter, record: Record<string, unknown>): string {
  return writer.table.primaryKey
    .map((k) => {
      const text = JSON.stringify(record[k]) ?? "undefined";
      return `${k}=${text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
    })
    .join(", ");
}
