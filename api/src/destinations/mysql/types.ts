// How Mako's column types map to MySQL's, values to what mysql2 sends, and fields to columns.

import { deeperThan } from "../../connectors/base/nesting";
import { type ColumnType, widen } from "../columnTypes";
import { type Column, type ShapeRules, fieldType, freeName } from "../tableShape";
import { MAX_NAME_CHARS } from "./naming";

export const SQL_TYPE: Record<ColumnType, string> = {
  boolean: "BOOLEAN",
  integer: "BIGINT",
  real: "DOUBLE",
  text: "LONGTEXT",
  json: "JSON",
};

/**
 * Primary-key columns holding text are VARCHAR(255): an index needs a bounded length, and
 * 255 utf8mb4 characters stay within InnoDB's 3,072-byte key limit for two-column keys.
 */
export const KEY_TEXT_CHARS = 255;
const KEY_TEXT = `VARCHAR(${KEY_TEXT_CHARS})`;

export function columnType(c: Column, isKey: boolean): string {
  if (isKey) return (c.type === "text" || c.type === "json" ? KEY_TEXT : SQL_TYPE[c.type]) + " NOT NULL";
  return SQL_TYPE[c.type];
}

export const mysqlShape: ShapeRules = {
  /**
   * InnoDB allows 1,017 columns and ~8 kB of a row in its page (a long value leaves a 20-byte
   * pointer there): 300 data columns always fit. Further fields go to the JSON `_mako_overflow`.
   */
  maxColumns: 300,
  caseInsensitive: true,
  keysFirst: true,
  typeOf: fieldType,
  // MariaDB's JSON is LONGTEXT checked by JSON_VALID: arbitrary text cannot become JSON in
  // place, so a text column that starts receiving objects keeps text and stores their JSON text.
  widen: (a, b) => (a === "text" && b === "json" ? "text" : widen(a, b)!),
  columnName: (field, taken) => freeName(identifierText(field), taken, { maxNameBytes: MAX_NAME_CHARS, caseInsensitive: true, trimTrailingSpaces: true }),
};

/** MySQL identifiers hold the Basic Multilingual Plane only, without U+0000: anything else becomes U+FFFD. */
export const identifierText = (field: string) => field.replace(/\u0000|[\uD800-\uDBFF][\uDC00-\uDFFF]|[\uD800-\uDFFF]/g, "\uFFFD");

/**
 * Levels of objects and arrays a JSON column takes: MariaDB's JSON is LONGTEXT checked by
 * JSON_VALID, which refuses 32 levels; MySQL's JSON type refuses past 100.
 */
export const jsonDepthOf = (version: string) => (/mariadb/i.test(version) ? 31 : 100);

/**
 * A value for a JSON column of at most `levels` levels: a deeper part is kept as its JSON text
 * (a string) where the limit is reached, so the value lands rather than failing the entity.
 */
export function withinJsonDepth(value: unknown, levels: number): unknown {
  if (!deeperThan(value, levels)) return value;
  const keep = (v: unknown, left: number): unknown => {
    if (typeof v !== "object" || v === null) return v;
    if (left <= 0) return JSON.stringify(v);
    if (Array.isArray(v)) return v.map((x) => keep(x, left - 1));
    const out: Record<string, unknown> = {};
    for (const key in v) out[key] = keep((v as Record<string, unknown>)[key], left - 1);
    return out;
  };
  return keep(value, levels);
}

export type Converter = (value: unknown) => unknown;
const number: Converter = (v) => (typeof v === "boolean" ? (v ? 1 : 0) : typeof v === "bigint" ? String(v) : v ?? null);

/** Values as mysql2 sends them, per column type; JSON within the server's depth. */
export function converters(jsonDepth: number): Record<ColumnType, Converter> {
  return {
    boolean: (v) => v ?? null,
    integer: number,
    real: number,
    text: (v) =>
      typeof v === "string"
        ? v
        : v == null
          ? null
          : v instanceof Date
            ? v.toISOString()
            : typeof v === "object"
              ? JSON.stringify(v)
              : String(v),
    json: (v) => (v == null ? null : JSON.stringify(typeof v === "object" ? withinJsonDepth(v, jsonDepth) : v)),
  };
}

/** MySQL DATETIME(6) in UTC from an ISO timestamp (or anything Date can parse). */
export function toDatetime(value: unknown): string | null {
  if (value == null) return null;
  const iso = typeof value === "string" && value.length === 24 && value.endsWith("Z") ? value : new Date(value as string).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}
