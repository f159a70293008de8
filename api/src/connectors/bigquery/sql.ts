import type { Since } from "../base/types";
import type { QueryRequest, TableRef } from "./api";
import type { BigQueryEntity } from "./config";

// The SQL Mako sends is built from validated names only: table references and column names
// are checked by the config schema (letters, digits, _ and -), then quoted with backticks;
// the incremental mark is always a named query parameter, never text in the query
// (https://cloud.google.com/bigquery/docs/parameterized-queries).

const quote = (name: string) => `\`${name}\``;

/** `[project.]dataset.table` with the source's project as the default. */
export function tableRef(table: string, defaultProject: string): TableRef {
  const parts = table.split(".");
  // A domain-scoped project ("example.com:analytics") has dots of its own.
  const projectId = parts.length > 2 ? parts.slice(0, -2).join(".") : defaultProject;
  return { projectId, datasetId: parts[parts.length - 2], tableId: parts[parts.length - 1] };
}

/** `project.dataset.table` as one quoted path (GoogleSQL allows the whole path in one pair of backticks). */
export function quotedTable(ref: TableRef): string {
  return quote(`${ref.projectId}.${ref.datasetId}.${ref.tableId}`);
}

/**
 * The query an entity runs: its own SQL or the whole table, and with a mark, only the rows at or
 * past it (`>=`: rows sharing the mark's value are read again, never missed).
 */
export function entityQuery(entity: BigQueryEntity, defaultProject: string, since: Since | undefined): Pick<QueryRequest, "query" | "queryParameters"> {
  const source = entity.query !== undefined ? `(\n${entity.query}\n)` : quotedTable(tableRef(entity.table!, defaultProject));
  if (since === undefined || entity.cursor_field === undefined) {
    return { query: entity.query ?? `SELECT * FROM ${source}` };
  }
  return {
    query: `SELECT * FROM ${source} WHERE ${quote(entity.cursor_field)} >= @since`,
    queryParameters: [{ name: "since", ...sinceParameter(since) }],
  };
}

const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)\d*(Z|[+-]\d{2}:?\d{2})$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const BIG_INTEGER = /^-?\d{16,}$/;

/**
 * The parameter's type, read from the mark's shape — the mark is a value this connector
 * decoded, so each BigQuery type has its own: a number is INT64 or FLOAT64, an ISO instant with
 * a zone TIMESTAMP, one without DATETIME, a bare date DATE, a long digit string an INT64
 * beyond 2^53; anything else is a STRING. (NUMERIC cursors read as STRING: CAST them in the query.)
 */
export function sinceParameter(since: Since): { parameterType: { type: string }; parameterValue: { value: string } } {
  if (typeof since === "number") {
    return { parameterType: { type: Number.isInteger(since) ? "INT64" : "FLOAT64" }, parameterValue: { value: String(since) } };
  }
  const ts = TIMESTAMP.exec(since);
  if (ts) {
    // GoogleSQL's canonical form: "2024-05-01 12:30:00.123456+00:00".
    const zone = ts[3] === "Z" ? "+00:00" : ts[3];
    return { parameterType: { type: "TIMESTAMP" }, parameterValue: { value: `${ts[1]} ${ts[2]}${zone}` } };
  }
  if (DATETIME.test(since)) return { parameterType: { type: "DATETIME" }, parameterValue: { value: since.replace("T", " ") } };
  if (DATE.test(since)) return { parameterType: { type: "DATE" }, parameterValue: { value: since } };
  if (BIG_INTEGER.test(since)) return { parameterType: { type: "INT64" }, parameterValue: { value: since } };
  return { parameterType: { type: "STRING" }, parameterValue: { value: since } };
}
