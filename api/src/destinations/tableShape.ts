// How records become columns, in every destination: the type of each field, the columns a chunk
// adds or widens, legal column names, and the overflow column that holds the fields of records
// wider than the database allows. Each dialect gives its rules (ShapeRules).

import type { DataRecord } from "../connectors/base/types";
import { type ColumnType, widen } from "./columnTypes";
import { DELETED_AT, SYNCED_AT, VERSION } from "./Destination";

export const OVERFLOW = "_mako_overflow";
/** Record fields that never become data columns. */
export const SYSTEM_FIELDS: ReadonlySet<string> = new Set([SYNCED_AT, DELETED_AT, VERSION, OVERFLOW]);

export interface Column {
  field: string;
  /** The column's name in the database (differs from the field when the field is not a legal name). */
  name: string;
  type: ColumnType;
}

export interface TableShape {
  columns: Column[];
  /** True once fields beyond `maxColumns` go to the JSON column `_mako_overflow`. */
  overflow: boolean;
  /**
   * True once the table has the `_mako_version` column (rowVersions.ts). Tables made before it
   * existed gain it the next time they are written; their rows keep NULL there.
   */
  versioned: boolean;
}

export interface ShapeRules {
  /** Data columns allowed before further fields go to the overflow column. */
  maxColumns: number;
  /** Whether "Name" and "name" are the same column in this database. */
  caseInsensitive: boolean;
  /** Key fields become columns first, even past the column limit (the servers); SQLite keeps the records' field order. */
  keysFirst: boolean;
  /** The type of one value (undefined for null: it says nothing about the column). */
  typeOf(value: unknown): ColumnType | undefined;
  /** The type holding both; databases that cannot convert text to JSON in place keep text. */
  widen(a: ColumnType, b: ColumnType): ColumnType;
  /** A legal column name for a field, not in `taken` (names folded to lower case when caseInsensitive); adds it there. */
  columnName(field: string, taken: Set<string>): string;
}

/** How a server database limits column names (see freeName). */
export interface NameRules {
  /** The longest column name, in UTF-8 bytes. */
  maxNameBytes: number;
  caseInsensitive: boolean;
  /** MySQL: names may not end with a space. */
  trimTrailingSpaces?: boolean;
}

export interface ShapeChange {
  added: Column[];
  /** Existing columns with their new, wider type. */
  widened: Array<Column & { from: ColumnType }>;
  /** The overflow column must be created. */
  overflowOn: boolean;
  /** The `_mako_version` column must be created (a table from before it existed). */
  versionOn: boolean;
}

const TWO_63 = 2 ** 63;

/** The type of one value; integers beyond 64 bits and non-finite numbers are not "integer". */
export function fieldType(value: unknown): ColumnType | undefined {
  switch (typeof value) {
    case "string":
      return "text";
    case "number":
      if (Number.isInteger(value) && value >= -TWO_63 && value < TWO_63) return "integer";
      return Number.isFinite(value) ? "real" : "text";
    case "boolean":
      return "boolean";
    case "bigint":
      return value >= -(2n ** 63n) && value < 2n ** 63n ? "integer" : "text";
    case "object":
      return value === null ? undefined : value instanceof Date ? "text" : "json";
    case "undefined":
      return undefined;
    default:
      return "text";
  }
}

/** The widest type seen per field across a chunk (undefined where only nulls were seen). */
export function observeTypes(records: DataRecord[], typeOf: ShapeRules["typeOf"]): Map<string, ColumnType | undefined> {
  const types = new Map<string, ColumnType | undefined>();
  for (const record of records) {
    for (const field in record) {
      const t = typeOf(record[field]);
      const known = types.get(field);
      if (t === known) {
        if (t !== undefined || types.has(field)) continue;
      }
      types.set(field, widen(known, t));
    }
  }
  for (const f of SYSTEM_FIELDS) types.delete(f);
  return types;
}

/** What the table must gain to hold the observed fields; null when it holds them already. */
export function planChange(
  shape: TableShape,
  observed: Map<string, ColumnType | undefined>,
  rules: ShapeRules,
  primaryKey: readonly string[] = [],
): ShapeChange | null {
  const byField = new Map(shape.columns.map((c) => [c.field, c]));
  const taken = new Set([...shape.columns.map((c) => fold(c.name, rules)), ...[...SYSTEM_FIELDS].map((f) => fold(f, rules))]);
  const added: Column[] = [];
  const widened: ShapeChange["widened"] = [];
  let overflow = shape.overflow;
  // Key fields first: they must become columns even when the record is too wide.
  const fields = rules.keysFirst
    ? [...primaryKey.filter((k) => observed.has(k)), ...[...observed.keys()].filter((f) => !primaryKey.includes(f))]
    : observed.keys();
  for (const field of fields) {
    const type = observed.get(field);
    if (type === undefined) continue; // only nulls so far: nothing to create yet
    const existing = byField.get(field);
    if (existing) {
      const wider = rules.widen(existing.type, type);
      if (wider !== existing.type) widened.push({ ...existing, type: wider, from: existing.type });
    } else if (!overflow) {
      if (shape.columns.length + added.length >= rules.maxColumns) overflow = true;
      else added.push({ field, name: rules.columnName(field, taken), type });
    }
  }
  const overflowOn = overflow && !shape.overflow;
  const versionOn = !shape.versioned;
  return added.length || widened.length || overflowOn || versionOn ? { added, widened, overflowOn, versionOn } : null;
}

/** The shape after a change. */
export function applyChange(shape: TableShape, change: ShapeChange): TableShape {
  const wider = new Map(change.widened.map((c) => [c.field, c.type]));
  return {
    columns: shape.columns.map((c) => (wider.has(c.field) ? { ...c, type: wider.get(c.field)! } : c)).concat(change.added),
    overflow: shape.overflow || change.overflowOn,
    versioned: shape.versioned || change.versionOn,
  };
}

function fold(name: string, rules: { caseInsensitive: boolean }): string {
  return rules.caseInsensitive ? name.toLowerCase() : name;
}

/** A legal, unused column name for a field: truncated to the byte limit, suffixed when taken. */
export function freeName(field: string, taken: Set<string>, rules: NameRules): string {
  let base = rules.trimTrailingSpaces ? field.trimEnd() : field;
  if (base === "") base = "_";
  for (let n = 1; ; n++) {
    const suffix = n === 1 ? "" : `_${n}`;
    const name = truncateBytes(base, rules.maxNameBytes - Buffer.byteLength(suffix)) + suffix;
    const key = fold(name, rules);
    if (!taken.has(key)) {
      taken.add(key);
      return name;
    }
  }
}

/** Cuts a string to at most `max` UTF-8 bytes without splitting a character. */
export function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = "";
  let bytes = 0;
  for (const ch of text) {
    const b = Buffer.byteLength(ch);
    if (bytes + b > max) break;
    out += ch;
    bytes += b;
  }
  return out;
}

/**
 * The record's fields that have no column, as a JSON object text; null when there are none.
 * `fit` adapts the object first where the database needs it (MySQL's JSON depth).
 */
export function overflowOf(record: DataRecord, byField: ReadonlyMap<string, Column>, fit?: (extra: DataRecord) => unknown): string | null {
  let extra: DataRecord | undefined;
  for (const field in record) {
    if (byField.has(field) || SYSTEM_FIELDS.has(field)) continue;
    (extra ??= {})[field] = record[field];
  }
  return extra ? JSON.stringify(fit ? fit(extra) : extra) : null;
}

// PostgreSQL's text and jsonb cannot hold U+0000. Mako replaces it with U+FFFD (the Unicode
// replacement character) everywhere in those values, so the value keeps its length and shows
// where the NUL was; every other character, astral ones included, is kept as is.
const NUL = "\u0000";
/** `\u0000` escapes in JSON text, not preceded by an odd number of backslashes (an escaped backslash). */
const JSON_NUL = /(?<!\\)((?:\\\\)*)\\u0000/g;

export function replaceNul(text: string): string {
  return text.includes(NUL) ? text.replaceAll(NUL, "\uFFFD") : text;
}

export function replaceNulInJson(json: string): string {
  return json.includes("\\u0000") ? json.replace(JSON_NUL, "$1\\ufffd") : json;
}
