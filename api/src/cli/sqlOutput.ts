import { renderTable } from "./table";

/** Longest cell of the aligned table; --json and --csv print values whole. */
const MAX_CELL = 80;

type Row = Record<string, unknown>;

/** `mako sql`'s default output: an aligned table, NULL for nulls, long values cut with "…". */
export function sqlTable(rows: Row[]): string[] {
  const columns = columnsOf(rows);
  const right = new Set(columns.flatMap((c, i) => (rows.every((r) => typeof r[c] === "number" || typeof r[c] === "bigint" || r[c] === null) ? [i] : [])));
  const cells = rows.map((r) =>
    columns.map((c) => {
      const text = r[c] === null || r[c] === undefined ? "NULL" : oneLine(asText(r[c]));
      return [...text].length > MAX_CELL ? `${[...text].slice(0, MAX_CELL - 1).join("")}…` : text;
    }),
  );
  return [...renderTable({ columns, rows: cells, right }), `(${rows.length} ${rows.length === 1 ? "row" : "rows"})`];
}

/** RFC 4180 CSV: a header line, fields quoted when they hold a comma, a quote or a line break; NULL is empty. */
export function sqlCsv(rows: Row[]): string[] {
  if (rows.length === 0) return [];
  const columns = columnsOf(rows);
  const field = (value: unknown) => {
    const text = value === null || value === undefined ? "" : asText(value);
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [columns.map(field).join(","), ...rows.map((r) => columns.map((c) => field(r[c])).join(","))];
}

/** One JSON object per line; binary values as hex. */
export function sqlJsonLines(rows: Row[]): string[] {
  // The holder's own value: a Buffer's toJSON has already run on `value`.
  return rows.map((r) =>
    JSON.stringify(r, function (this: Record<string, unknown>, key, value) {
      const raw = this[key];
      return isBinary(raw) ? Buffer.from(raw).toString("hex") : typeof raw === "bigint" ? raw.toString() : value;
    }),
  );
}

function columnsOf(rows: Row[]): string[] {
  const columns = new Set<string>();
  for (const r of rows) for (const c of Object.keys(r)) columns.add(c);
  return [...columns];
}

function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (isBinary(value)) return `x'${Buffer.from(value).toString("hex")}'`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function isBinary(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

function oneLine(text: string): string {
  return text.replace(/\r?\n/g, "\\n").replace(/\t/g, " ");
}
