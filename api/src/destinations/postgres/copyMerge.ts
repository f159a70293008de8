import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { DataRecord } from "../../connectors/base/types";
import type { ColumnType } from "../columnTypes";
import { DELETED_AT, VERSION } from "../Destination";
import { versionValue } from "../rowVersions";
import { STORED } from "./merge";
import { quote } from "./naming";
import type { PgWriter } from "./writer";
import { CONVERT, overflowText, toJson } from "./types";

// COPY text format: backslash, tab, newline and carriage return are escaped; \N is null.
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIALS = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };
const copyEscape = (text: string) => (COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c]) : text);
const nullable = (text: string | null) => (text === null ? "\\N" : copyEscape(text));
export const COPY_TEXT: Record<ColumnType, (v: unknown) => string> = {
  boolean: (v) => (v == null ? "\\N" : v ? "t" : "f"),
  integer: (v) => (v == null ? "\\N" : typeof v === "boolean" ? (v ? "1" : "0") : String(v)),
  real: (v) => (v == null ? "\\N" : typeof v === "boolean" ? (v ? "1" : "0") : String(v)),
  text: (v) => nullable(CONVERT.text(v) as string | null),
  json: (v) => nullable(toJson(v)),
};

/**
 * COPY the chunk into a temporary staging table (emptied at commit), then merge it with one
 * INSERT … SELECT … ON CONFLICT DO UPDATE. Returns the rows inserted or replaced.
 */
export async function copyMerge(client: pg.PoolClient, writer: PgWriter, records: DataRecord[], syncedAt: string): Promise<number> {
  const { fields, byField, copyText, overflow, versioned } = writer;
  const n = fields.length;
  const synced = `\t${syncedAt}\t`;
  // Checked before the COPY starts: a throw midway would leave the COPY open on the connection.
  if (versioned) for (const record of records) versionValue(record[VERSION]);
  const staging = quote(`_mako_stage_${writer.id}`);
  await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${staging} (LIKE ${writer.table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`);
  const stream = client.query(copyFrom(`COPY ${staging} (${writer.list}) FROM STDIN`));
  const done = new Promise<void>((resolve, reject) => {
    stream.on("finish", resolve);
    stream.on("error", reject);
  });
  // Batches of ~1,000 lines per write: few stream calls, bounded strings.
  let batch = "";
  for (let r = 0; r < records.length; r++) {
    const record = records[r];
    let line = copyText[0](record[fields[0]]);
    for (let j = 1; j < n; j++) line += "\t" + copyText[j](record[fields[j]]);
    const deleted = record[DELETED_AT];
    line += synced + (deleted == null ? "\\N" : copyEscape(deleted instanceof Date ? deleted.toISOString() : String(deleted)));
    if (overflow) line += "\t" + nullable(overflowText(record, byField));
    if (versioned) {
      const version = versionValue(record[VERSION]);
      line += version === null ? "\t\\N" : "\t" + version;
    }
    batch += line + "\n";
    if ((r & 1023) === 1023) {
      // A failing COPY never drains: wait for whichever comes first.
      if (!stream.write(batch)) await Promise.race([new Promise((resolve) => stream.once("drain", resolve)), done]);
      batch = "";
    }
  }
  stream.end(batch);
  await done;
  const merged = await client.query(`INSERT INTO ${writer.table} AS ${STORED} (${writer.list}) SELECT ${writer.list} FROM ${staging} ${writer.onConflict}`);
  // Counts inserted and updated rows; a conflict the guard refused is in neither.
  return merged.rowCount ?? 0;
}
