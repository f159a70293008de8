import type { DataRecord } from "../base/types";

// Rows arrive in BigQuery's f/v form — {"f": [{"v": cell}, …]}, one cell per schema field,
// scalars as strings, NULL as null, REPEATED as [{"v": …}], RECORD as a nested {"f": […]}
// (https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/list). Each type becomes
// the JSON value a destination stores without loss:
//   INTEGER/INT64        number when within ±(2^53−1), else the exact decimal string
//   FLOAT/FLOAT64        number; NaN and ±Infinity stay the strings "NaN", "Infinity", "-Infinity"
//   NUMERIC/BIGNUMERIC   the exact decimal string
//   BOOLEAN/BOOL         boolean
//   TIMESTAMP            ISO 8601 UTC with microseconds, "2024-05-01T12:30:00.123456Z" (asked for as
//                        int64 microseconds with formatOptions.useInt64Timestamp, so nothing is rounded)
//   DATE, TIME, DATETIME, GEOGRAPHY (WKT), INTERVAL, RANGE, STRING   the text as sent
//   BYTES                base64 text as sent
//   JSON                 the parsed value (the text when it does not parse)
//   RECORD/STRUCT        an object of its fields; REPEATED: a list

export interface TableField {
  name: string;
  type: string;
  mode?: string;
  fields?: TableField[];
}

type Cell = unknown;
type Convert = (v: Cell) => unknown;

const MAX_SAFE_DIGITS = 15;

function integer(v: Cell): unknown {
  const s = v as string;
  // Up to 15 digits always fits a double exactly; longer ones are checked.
  if (s.length <= MAX_SAFE_DIGITS) return Number(s);
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : s;
}

function float(v: Cell): unknown {
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}

const MICROS = ["000", "00", "0", ""];

/** Microseconds since the epoch (decimal text) → "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
export function timestampFromMicros(text: string): string {
  let ms: number;
  let micros: number;
  const n = Number(text);
  if (Number.isSafeInteger(n)) {
    ms = Math.floor(n / 1000);
    micros = n - ms * 1000;
  } else {
    const big = BigInt(text);
    let q = big / 1000n;
    if (big < 0n && q * 1000n !== big) q -= 1n; // floor, not truncation, before 1970
    ms = Number(q);
    micros = Number(big - q * 1000n);
  }
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return text;
  // BigQuery's range (years 1–9999) prints as "YYYY-MM-DDTHH:MM:SS.mmmZ".
  const digits = String(micros);
  return `${d.toISOString().slice(0, 23)}${MICROS[digits.length]}${digits}Z`;
}

function timestamp(v: Cell): unknown {
  const s = v as string;
  // Float seconds ("1.7040672E9"): what the API sends when the int64 form was not honoured.
  if (/[.eE]/.test(s)) {
    const seconds = Number(s);
    return Number.isFinite(seconds) ? timestampFromMicros(String(Math.round(seconds * 1e6))) : s;
  }
  return timestampFromMicros(s);
}

function json(v: Cell): unknown {
  try {
    return JSON.parse(v as string);
  } catch {
    return v;
  }
}

const asIs: Convert = (v) => v;

function scalar(type: string): Convert {
  switch (type.toUpperCase()) {
    case "INTEGER":
    case "INT64":
      return integer;
    case "FLOAT":
    case "FLOAT64":
      return float;
    case "BOOLEAN":
    case "BOOL":
      return (v) => v === "true";
    case "TIMESTAMP":
      return timestamp;
    case "JSON":
      return json;
    default:
      return asIs;
  }
}

function converter(field: TableField): Convert {
  const type = field.type.toUpperCase();
  const one: Convert = type === "RECORD" || type === "STRUCT" ? recordConverter(field.fields ?? []) : scalar(type);
  const nullable: Convert = (v) => (v === null || v === undefined ? null : one(v));
  if (field.mode?.toUpperCase() !== "REPEATED") return nullable;
  return (v) => (Array.isArray(v) ? v.map((item) => nullable((item as { v: Cell }).v)) : []);
}

function recordConverter(fields: TableField[]): Convert {
  const names = fields.map((f) => f.name);
  const converts = fields.map(converter);
  return (v) => {
    const cells = (v as { f?: { v: Cell }[] }).f ?? [];
    const out: DataRecord = {};
    for (let i = 0; i < names.length; i++) out[names[i]] = converts[i](cells[i]?.v);
    return out;
  };
}

/** A function turning one f/v row of this schema into a record. */
export function rowDecoder(fields: TableField[]): (row: { f: { v: Cell }[] }) => DataRecord {
  return recordConverter(fields) as (row: { f: { v: Cell }[] }) => DataRecord;
}
