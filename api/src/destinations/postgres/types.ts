// How Mako's column types map to PostgreSQL's, values to what pg sends, and fields to columns.

import pg from "pg";
import type { DataRecord } from "../../connectors/base/types";
import { type ColumnType, widen } from "../columnTypes";
import { type Column, type ShapeRules, fieldType, freeName, overflowOf, replaceNul } from "../tableShape";
import { MAX_NAME_BYTES } from "./naming";

export const SQL_TYPE: Record<ColumnType, string> = {
  boolean: "boolean",
  integer: "bigint",
  real: "double precision",
  text: "text",
  json: "jsonb",
};

export const postgresShape: ShapeRules = {
  /**
   * PostgreSQL allows 1,600 columns, but a row must also fit in one 8 kB page: 800 data columns
   * leave room for values of ~10 bytes on average. Further fields go to the jsonb `_mako_overflow`.
   */
  maxColumns: 800,
  caseInsensitive: false,
  keysFirst: true,
  typeOf: fieldType,
  widen: (a, b) => widen(a, b)!,
  columnName: (field, taken) => freeName(field, taken, { maxNameBytes: MAX_NAME_BYTES, caseInsensitive: false }),
};

export type Converter = (value: unknown) => unknown;

// `\u0000` and lone surrogates are escapes jsonb rejects; paired surrogates JSON.stringify leaves raw.
const JSON_BAD_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/g;
export const toJson = (v: unknown): string | null => {
  if (v == null) return null;
  const json = JSON.stringify(v);
  return json.includes("\\u") ? json.replace(JSON_BAD_ESCAPE, "$1\\ufffd") : json;
};
export const CONVERT: Record<ColumnType, Converter> = {
  boolean: (v) => v ?? null,
  integer: (v) => (typeof v === "boolean" ? (v ? 1 : 0) : v ?? null),
  real: (v) => (typeof v === "boolean" ? (v ? 1 : 0) : v ?? null),
  text: (v) =>
    typeof v === "string"
      ? replaceNul(v)
      : v == null
        ? null
        : v instanceof Date
          ? v.toISOString()
          : typeof v === "object"
            ? JSON.stringify(v) // NULs inside are escaped as the six characters \u0000
            : String(v),
  json: toJson,
};

export function overflowText(record: DataRecord, byField: Map<string, Column>): string | null {
  const json = overflowOf(record, byField);
  return json && json.includes("\\u") ? json.replace(JSON_BAD_ESCAPE, "$1\\ufffd") : json;
}

/** SQL converting a column to a wider type in ALTER TABLE … USING. */
export function widenUsing(column: string, from: ColumnType, to: ColumnType): string {
  if (to === "json") return `to_jsonb(${column})`;
  if (from === "boolean" && to !== "text") return `${column}::int::${SQL_TYPE[to]}`;
  return `${column}::${SQL_TYPE[to]}`;
}

/** int8 as a number when it fits (a string beyond 2^53); timestamps as PostgreSQL prints them. */
export function getTypeParser(oid: number, format?: string): (value: string) => unknown {
  if (oid === 20) return (v) => (Number.isSafeInteger(Number(v)) ? Number(v) : v);
  if (oid === 1184 || oid === 1114) return (v) => v;
  return pg.types.getTypeParser(oid, format as "text");
}
