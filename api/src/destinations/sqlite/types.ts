// How Mako's column types map to SQLite's, values to what better-sqlite3 binds, and fields to columns.

import { type ColumnType, typeOfValue, widen } from "../columnTypes";
import type { ShapeRules } from "../tableShape";

export const SQL_TYPE: Record<ColumnType, string> = {
  boolean: "INTEGER",
  integer: "INTEGER",
  real: "REAL",
  text: "TEXT",
  json: "TEXT",
};

const toNumber = (v: unknown) => (v === true ? 1 : v === false ? 0 : v ?? null);
const toText = (v: unknown) =>
  v == null ? null : typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v) : String(v);
const toJson = (v: unknown) => (v == null ? null : JSON.stringify(v));
export const CONVERT: Record<ColumnType, (v: unknown) => unknown> = {
  boolean: toNumber,
  integer: toNumber,
  real: toNumber,
  text: toText,
  json: toJson,
};

export const sqliteShape: ShapeRules = {
  /** SQLite allows 2000 columns by default; past this many, fields go to a JSON overflow column. */
  maxColumns: 1900,
  caseInsensitive: true,
  keysFirst: false,
  typeOf: typeOfValue,
  widen: (a, b) => widen(a, b)!,
  // Any string is a legal SQLite name: only a clash (ignoring case) needs a suffix.
  columnName(field, taken) {
    let name = field === "" ? "_" : field;
    for (let n = 2; taken.has(name.toLowerCase()); n++) name = `${field}_${n}`;
    taken.add(name.toLowerCase());
    return name;
  },
};

/** SQL converting a stored value of one type to a wider one. */
export function convertSql(column: string, from: ColumnType, to: ColumnType): string {
  if (from === to) return column;
  if (to === "real") return `CAST(${column} AS REAL)`;
  if (to === "integer") return column;
  if (to === "text") {
    if (from === "boolean") return `CASE ${column} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END`;
    // SQLite prints a whole REAL as "1.0"; a record's 1 is written as "1" (String(1)) after the widening.
    if (from === "real") return `CASE WHEN ${column} = CAST(${column} AS INTEGER) THEN CAST(CAST(${column} AS INTEGER) AS TEXT) ELSE CAST(${column} AS TEXT) END`;
    return `CAST(${column} AS TEXT)`;
  }
  // to json
  if (from === "text") return `json_quote(${column})`;
  if (from === "boolean") return `CASE ${column} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END`;
  return `CAST(${column} AS TEXT)`;
}
