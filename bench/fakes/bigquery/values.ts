// Cell values of the BigQuery fake: how a table holds them, how the REST API encodes them
// (the f/v row form), how query parameters arrive, and how two values compare.
//
// Row encoding — https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/list and
// jobs/getQueryResults: `rows` is a list of `{ "f": [ { "v": … }, … ] }`, one cell per schema
// field; scalars are JSON strings, NULL is null, a REPEATED field is a list of `{ "v": … }`, a
// RECORD is a nested `{ "f": [ … ] }`. TIMESTAMP is float seconds since the epoch unless the
// request sets `formatOptions.useInt64Timestamp`, which gives int64 microseconds
// (https://cloud.google.com/bigquery/docs/reference/rest/v2/DataFormatOptions).
// Schemas use the legacy type names (INTEGER, FLOAT, BOOLEAN, RECORD) in API responses
// (https://cloud.google.com/bigquery/docs/reference/rest/v2/tables#TableFieldSchema).

export interface FieldSchema {
  name: string;
  type: string;
  mode?: "NULLABLE" | "REQUIRED" | "REPEATED";
  fields?: FieldSchema[];
}

/** A value as a table holds it: bigint for INTEGER and TIMESTAMP (microseconds), Buffer for BYTES, … */
export type Cell = null | string | number | boolean | bigint | Buffer | Cell[] | { [field: string]: Cell } | JsonValue;
type JsonValue = { json: unknown };

/** The standard SQL name of a (possibly legacy) type name. */
export function canonicalType(type: string): string {
  const t = type.toUpperCase();
  return ({ INTEGER: "INT64", FLOAT: "FLOAT64", BOOLEAN: "BOOL", RECORD: "STRUCT", BIGDECIMAL: "BIGNUMERIC", DECIMAL: "NUMERIC" } as Record<string, string>)[t] ?? t;
}

/** The name a response schema uses (legacy names, as the REST API returns them). */
export function responseType(type: string): string {
  const t = canonicalType(type);
  return ({ INT64: "INTEGER", FLOAT64: "FLOAT", BOOL: "BOOLEAN", STRUCT: "RECORD" } as Record<string, string>)[t] ?? t;
}

export function responseSchema(fields: FieldSchema[]): FieldSchema[] {
  return fields.map((f) => ({
    name: f.name,
    type: responseType(f.type),
    mode: f.mode ?? "NULLABLE",
    ...(f.fields ? { fields: responseSchema(f.fields) } : {}),
  }));
}

// --- input: what tests hand the fake ---------------------------------------------------------

const TIMESTAMP_TEXT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Microseconds since the epoch of a timestamp literal (`2024-01-02 03:04:05.123456+00:00`, `…Z`, `… UTC`). */
export function parseTimestamp(text: string): bigint | undefined {
  const m = TIMESTAMP_TEXT.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = "", zone = "Z"] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  let offsetMinutes = 0;
  if (!/^(Z|UTC)$/i.test(zone)) {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0"));
  }
  return (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * 1000n + BigInt(frac.padEnd(6, "0"));
}

/** A test's JS value converted to how a column of `field`'s type holds it. */
export function toCell(field: FieldSchema, value: unknown): Cell {
  if (field.mode === "REPEATED") {
    if (value === null || value === undefined) return [];
    if (!Array.isArray(value)) throw new Error(`${field.name}: REPEATED field needs an array`);
    return value.map((v) => toCell({ ...field, mode: "NULLABLE" }, v));
  }
  if (value === null || value === undefined) return null;
  switch (canonicalType(field.type)) {
    case "INT64":
      return BigInt(value as bigint | number | string);
    case "FLOAT64":
      return Number(value);
    case "BOOL":
      return Boolean(value);
    case "BYTES":
      return Buffer.isBuffer(value) ? value : Buffer.from(String(value), "base64");
    case "TIMESTAMP": {
      if (typeof value === "bigint") return value;
      if (value instanceof Date) return BigInt(value.getTime()) * 1000n;
      const micros = parseTimestamp(String(value));
      if (micros === undefined) throw new Error(`${field.name}: not a timestamp: ${String(value)}`);
      return micros;
    }
    case "JSON":
      return { json: value };
    case "STRUCT": {
      const out: { [k: string]: Cell } = {};
      for (const sub of field.fields ?? []) out[sub.name] = toCell(sub, (value as Record<string, unknown>)[sub.name]);
      return out;
    }
    default:
      // STRING, NUMERIC, BIGNUMERIC, DATE, TIME, DATETIME, GEOGRAPHY (WKT), INTERVAL: canonical text.
      return String(value);
  }
}

// --- output: the f/v encoding ----------------------------------------------------------------

/** Float seconds the way the API prints a double (Java's Double.toString: `1.7040672001E9`). */
function floatSeconds(micros: bigint): string {
  const seconds = Number(micros) / 1e6;
  if (seconds === 0) return "0.0";
  const exponent = Math.floor(Math.log10(Math.abs(seconds)));
  if (exponent < 7 && exponent >= -3) return String(seconds).includes(".") ? String(seconds) : `${seconds}.0`;
  const mantissa = String(seconds / 10 ** exponent);
  return `${mantissa.includes(".") ? mantissa : `${mantissa}.0`}E${exponent}`;
}

function floatText(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  return String(n);
}

export interface EncodeOptions {
  int64Timestamp: boolean;
}

/** One cell in the f/v form. */
export function encodeCell(field: FieldSchema, cell: Cell, options: EncodeOptions): unknown {
  if (field.mode === "REPEATED") {
    const items = (cell as Cell[] | null) ?? [];
    return items.map((item) => ({ v: encodeCell({ ...field, mode: "NULLABLE" }, item, options) }));
  }
  if (cell === null) return null;
  switch (canonicalType(field.type)) {
    case "INT64":
      return String(cell);
    case "FLOAT64":
      return floatText(cell as number);
    case "BOOL":
      return cell ? "true" : "false";
    case "BYTES":
      return (cell as Buffer).toString("base64");
    case "TIMESTAMP":
      return options.int64Timestamp ? String(cell) : floatSeconds(cell as bigint);
    case "JSON":
      return JSON.stringify((cell as JsonValue).json);
    case "STRUCT": {
      const record = cell as { [k: string]: Cell };
      return { f: (field.fields ?? []).map((sub) => ({ v: encodeCell(sub, record[sub.name] ?? null, options) })) };
    }
    default:
      return String(cell);
  }
}

export function encodeRow(fields: FieldSchema[], row: Cell[], options: EncodeOptions): { f: { v: unknown }[] } {
  return { f: fields.map((field, i) => ({ v: encodeCell(field, row[i] ?? null, options) })) };
}

// --- typed values in the evaluator ------------------------------------------------------------

/** A value in an expression, with its standard SQL type. */
export interface Typed {
  type: string;
  value: Cell;
}

const NUMERIC_TYPES = new Set(["INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC"]);
const ORDERED_TEXT = new Set(["STRING", "DATE", "TIME", "DATETIME", "NUMERIC", "BIGNUMERIC"]);

function decimalKey(text: string): number {
  return Number(text);
}

/**
 * Whether `a op b` type-checks, the way GoogleSQL's comparison signatures do: numbers with
 * numbers, otherwise the same type. An untyped string literal coerces to a date/time type; a
 * query parameter does not (parameters are typed by `parameterType`).
 */
export function comparable(a: Typed, b: Typed): boolean {
  if (a.type === b.type) return a.type !== "STRUCT" && a.type !== "JSON" && a.type !== "GEOGRAPHY" && a.type !== "ARRAY";
  return NUMERIC_TYPES.has(a.type) && NUMERIC_TYPES.has(b.type);
}

/** -1, 0 or 1; both values non-null and comparable. */
export function compare(a: Typed, b: Typed): number {
  if (NUMERIC_TYPES.has(a.type) && a.type !== b.type) {
    const x = a.type === "NUMERIC" || a.type === "BIGNUMERIC" ? decimalKey(a.value as string) : Number(a.value);
    const y = b.type === "NUMERIC" || b.type === "BIGNUMERIC" ? decimalKey(b.value as string) : Number(b.value);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = a.value;
  const y = b.value;
  if (a.type === "NUMERIC" || a.type === "BIGNUMERIC") return Math.sign(decimalKey(x as string) - decimalKey(y as string));
  if (typeof x === "bigint" && typeof y === "bigint") return x < y ? -1 : x > y ? 1 : 0;
  if (typeof x === "number" && typeof y === "number") return x < y ? -1 : x > y ? 1 : 0;
  if (typeof x === "boolean" && typeof y === "boolean") return Number(x) - Number(y);
  if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) return Buffer.compare(x, y);
  if (ORDERED_TEXT.has(a.type) || typeof x === "string") {
    const sx = normaliseText(a.type, String(x));
    const sy = normaliseText(a.type, String(y));
    return sx < sy ? -1 : sx > sy ? 1 : 0;
  }
  return 0;
}

/** DATETIME and TIME texts compare as text once written the same way (T separator, 6 fraction digits). */
function normaliseText(type: string, text: string): string {
  if (type !== "DATETIME" && type !== "TIME") return text;
  const t = text.replace(" ", "T");
  const dot = t.indexOf(".");
  return dot < 0 ? `${t}.000000` : t.padEnd(dot + 7, "0");
}

/** A query parameter (`{name, parameterType: {type}, parameterValue: {value}}`) as a typed value. */
export function parameterValue(type: string, value: string | undefined): Typed | string {
  const t = canonicalType(type);
  if (value === undefined || value === null) return { type: t, value: null };
  switch (t) {
    case "INT64":
      return /^-?\d+$/.test(value) ? { type: t, value: BigInt(value) } : `Invalid INT64 value: ${value}`;
    case "FLOAT64":
      return Number.isNaN(Number(value)) && value !== "NaN" ? `Invalid FLOAT64 value: ${value}` : { type: t, value: Number(value) };
    case "BOOL":
      return /^(true|false)$/i.test(value) ? { type: t, value: value.toLowerCase() === "true" } : `Invalid BOOL value: ${value}`;
    case "TIMESTAMP": {
      const micros = parseTimestamp(value);
      return micros === undefined ? `Invalid TIMESTAMP value: ${value}` : { type: t, value: micros };
    }
    case "DATE":
      return /^\d{4}-\d{2}-\d{2}$/.test(value) ? { type: t, value } : `Invalid DATE value: ${value}`;
    case "DATETIME":
      return /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/.test(value) ? { type: t, value: value.replace(" ", "T") } : `Invalid DATETIME value: ${value}`;
    case "NUMERIC":
    case "BIGNUMERIC":
      return /^-?\d+(\.\d+)?$/.test(value) ? { type: t, value } : `Invalid ${t} value: ${value}`;
    case "STRING":
    case "TIME":
      return { type: t, value };
    default:
      return `Unsupported query parameter type: ${type}`;
  }
}

/** The type of a column as the evaluator sees it (REPEATED fields are arrays). */
export function columnType(field: FieldSchema): string {
  return field.mode === "REPEATED" ? "ARRAY" : canonicalType(field.type);
}
