// How Mako's column types map to DuckDB's, values to appender calls and back, and fields to columns.

import type { DuckDBAppender, DuckDBValue } from "@duckdb/node-api";
import { type ColumnType, widen } from "../columnTypes";
import { type ShapeRules, fieldType, freeName } from "../tableShape";

export const SQL_TYPE: Record<ColumnType, string> = {
  boolean: "BOOLEAN",
  integer: "BIGINT",
  real: "DOUBLE",
  text: "VARCHAR",
  json: "JSON",
};

export const duckdbShape: ShapeRules = {
  /** DuckDB has no hard column limit; past PostgreSQL's, fields go to the JSON `_mako_overflow` too. */
  maxColumns: 1500,
  caseInsensitive: true, // DuckDB matches identifiers case-insensitively, even quoted ones
  keysFirst: true,
  typeOf: fieldType,
  // Casting VARCHAR to JSON parses the text (and fails on plain text), and ALTER … USING a
  // function cannot be replayed from DuckDB 1.5's WAL: a text column keeps receiving JSON text.
  widen: (a, b) => (a === "text" && b === "json" ? "text" : widen(a, b)!),
  columnName: (field, taken) => freeName(field, taken, { maxNameBytes: 255, caseInsensitive: true }),
};

export type Append = (appender: DuckDBAppender, value: unknown) => void;
export const APPEND: Record<ColumnType, Append> = {
  boolean: (a, v) => (v == null ? a.appendNull() : a.appendBoolean(v as boolean)),
  integer: (a, v) =>
    v == null
      ? a.appendNull()
      : typeof v === "bigint"
        ? a.appendBigInt(v)
        : a.appendBigInt(BigInt(typeof v === "boolean" ? (v ? 1 : 0) : (v as number))),
  real: (a, v) =>
    v == null ? a.appendNull() : a.appendDouble(typeof v === "boolean" ? (v ? 1 : 0) : Number(v)),
  text: (a, v) =>
    v == null
      ? a.appendNull()
      : a.appendVarchar(
          typeof v === "string" ? v : v instanceof Date ? v.toISOString() : typeof v === "object" ? JSON.stringify(v) : String(v),
        ),
  json: (a, v) => (v == null ? a.appendNull() : a.appendVarchar(JSON.stringify(v))),
};

/** DuckDB values as plain JS: BIGINT as a number when exact, JSON parsed, timestamps as text. */
export function fromDuck(value: DuckDBValue, json: boolean): unknown {
  if (value === null) return null;
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
  if (json && typeof value === "string") return JSON.parse(value);
  if (typeof value === "object") return String(value);
  return value;
}
