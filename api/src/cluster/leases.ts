// Who may write an entity: a lease in the metadata database (`mako.leases`), on the database's
// clock so that no worker's clock matters. The holder renews it at each progress write; a lease
// not renewed for its length expires, and another worker may take the entity over. Each take
// raises the entity's fence, which the destination checks at every commit (destinations/stateRow.ts):
// a holder that was only paused, and wakes after a takeover, has its commits refused.

import { METADATA_SCHEMA as S } from "../store/postgresUrl";
import type { Queryable } from "../store/postgresRuns";

export interface Lease {
  source: string;
  entity: string;
  /** The job holding it: `worker/job id`. */
  holder: string;
  fence: number;
}

/** Takes the entity when no live holder has it; null when one has. */
export async function takeLease(db: Queryable, source: string, entity: string, holder: string, seconds: number): Promise<Lease | null> {
  const { rows } = await db.query<{ fence: string }>(
    `INSERT INTO ${S}.leases (source, entity, holder, fence, expires_at) VALUES ($1, $2, $3, 1, now() + make_interval(secs => $4))
     ON CONFLICT (source, entity) DO UPDATE SET holder = excluded.holder, fence = ${S}.leases.fence + 1, expires_at = excluded.expires_at
       WHERE ${S}.leases.expires_at < now()
     RETURNING fence`,
    [source, entity, holder, seconds],
  );
  return rows[0] ? { source, entity, holder, fence: Number(rows[0].fence) } : null;
}

/** Seconds until the entity's current lease expires (0 when it has). */
export async function leaseRemaining(db: Queryable, source: string, entity: string): Promise<number> {
  const { rows } = await db.query<{ seconds: number }>(
    `SELECT greatest(0, extract(epoch FROM expires_at - now()))::float8 AS seconds FROM ${S}.leases WHERE source = $1 AND entity = $2`,
    [source, entity],
  );
  return rows[0]?.seconds ?? 0;
}

/**
 * SQL (for a CTE) that renews the lease while it is still held and not expired, returning a row
 * when it was: parameters $1 source, $2 entity, $3 holder, $4 fence, $5 seconds.
 */
export const renewLeaseSql = `UPDATE ${S}.leases SET expires_at = now() + make_interval(secs => $5)
  WHERE source = $1 AND entity = $2 AND holder = $3 AND fence = $4 AND expires_at > now() RETURNING 1`;

/** Gives the entity up at once (a slice ended, a job finished); false when it was no longer held. */
export async function releaseLease(db: Queryable, lease: Lease): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE ${S}.leases SET expires_at = '-infinity' WHERE source = $1 AND entity = $2 AND holder = $3 AND fence = $4 AND expires_at > now()`,
    [lease.source, lease.entity, lease.holder, lease.fence],
  );
  return (rowCount ?? 0) > 0;
}
