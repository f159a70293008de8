// PostgreSQL's bulk path: COPY into a staging table and merge (copyMerge.ts), or prepared
// 1,000-row multi-row upserts (multiRow.ts).

import type pg from "pg";
import { DELETED_AT, SYNCED_AT } from "../Destination";
import type { RowWriter } from "../dialect";
import { qualified } from "../tables";
import { copyMerge } from "./copyMerge";
import { multiRowUpsert } from "./multiRow";
import { quote } from "./naming";
import { type PgWriter, makeWriter } from "./writer";

export type BulkMethod = "copy" | "multirow";

export function postgresRows(bulk: BulkMethod): RowWriter<pg.PoolClient, PgWriter> {
  return {
    prepare: (_client, table, shape) => makeWriter(table, shape),

    write: (client, _table, writer, records, syncedAt) =>
      bulk === "copy" ? copyMerge(client, writer, records, syncedAt) : multiRowUpsert(client, writer, records, syncedAt),

    async markUnseenDeleted(client, table, before, at) {
      const result = await client.query(
        `UPDATE ${qualified(quote, table.name)} SET ${quote(DELETED_AT)} = $1
         WHERE ${quote(DELETED_AT)} IS NULL AND ${quote(SYNCED_AT)} < $2`,
        [at, before],
      );
      return result.rowCount ?? 0;
    },
  };
}
