// Takeover: any worker, about every second, looks for entities marked running whose lease has
// expired (their worker died, froze or was cut off) and puts them back in the queue, in one
// transaction: a new job becomes the entity's current one and the old job is cancelled. The row
// lock (SKIP LOCKED) keeps two workers from re-enqueuing one entity at once; the next worker to
// take the job resumes from the entity's last committed checkpoint.

import { METADATA_SCHEMA as S } from "../store/postgresUrl";
import type { Cluster } from "./Cluster";
import { ENTITY_QUEUE, QUEUE_SCHEMA } from "./queue";

/** Re-enqueues what lost its worker; the entities it took over, as `source.entity`. */
export async function takeOverExpired(cluster: Cluster, workerId: string): Promise<string[]> {
  const { rows } = await cluster.pool.query<{ run_id: string; entity: string; source: string }>(
    `SELECT re.run_id, re.entity, r.source FROM ${S}.run_entities AS re
     JOIN ${S}.runs AS r ON r.id = re.run_id
     LEFT JOIN ${S}.leases AS l ON l.source = r.source AND l.entity = re.entity
     WHERE re.status = 'running' AND r.status = 'running' AND r.executor = 'workers' AND (l.expires_at IS NULL OR l.expires_at < now())`,
  );
  const taken: string[] = [];
  for (const row of rows) {
    const done = await cluster.transaction(async (client) => {
      const locked = await client.query<{ job_id: string | null; worker: string | null }>(
        `SELECT re.job_id, re.worker FROM ${S}.run_entities AS re
         WHERE re.run_id = $1 AND re.entity = $2 AND re.status = 'running'
           AND NOT EXISTS (SELECT 1 FROM ${S}.leases AS l WHERE l.source = $3 AND l.entity = re.entity AND l.expires_at >= now())
         FOR UPDATE SKIP LOCKED`,
        [row.run_id, row.entity, row.source],
      );
      const current = locked.rows[0];
      if (!current) return false;
      if (current.job_id) await cluster.queue.cancel(client, current.job_id);
      await cluster.enqueue(client, { runId: row.run_id, source: row.source, entity: row.entity, reason: "takeover" });
      await client.query(`UPDATE ${S}.run_entities SET status = 'queued' WHERE run_id = $1 AND entity = $2`, [row.run_id, row.entity]);
      await client.query(`INSERT INTO ${S}.run_logs (run_id, at, level, entity, message) VALUES ($1, now(), 'warn', $2, $3)`, [
        row.run_id,
        row.entity,
        `the lease of worker ${current.worker ?? "?"} expired; ${workerId} put the entity back in the queue, to resume from its last checkpoint`,
      ]);
      return true;
    });
    if (done) taken.push(`${row.source}.${row.entity}`);
  }
  return taken;
}

/**
 * Re-enqueues entities waiting for a job that will never run: its handler failed before taking
 * the entity (the database went away mid-take, say), the job is gone, or it was handed out and
 * nobody took the entity within a lease — the database restarted after committing the fetch but
 * before the worker heard of it, so pg-boss holds it active until its expiry (a slice and an hour
 * away). That job is cancelled: were its worker alive after all, its take fails, as the job is no
 * longer the entity's current one. The entities it did.
 */
export async function requeueOrphans(cluster: Cluster): Promise<string[]> {
  const { rows } = await cluster.pool.query<{ run_id: string; entity: string; source: string }>(
    `SELECT re.run_id, re.entity, r.source FROM ${S}.run_entities AS re
     JOIN ${S}.runs AS r ON r.id = re.run_id
     LEFT JOIN ${QUEUE_SCHEMA}.job AS j ON j.name = $1 AND j.id = re.job_id
     WHERE re.status = 'queued' AND r.status = 'running' AND r.executor = 'workers'
       AND (j.id IS NULL OR j.state IN ('completed', 'cancelled', 'failed') OR (j.state = 'active' AND j.started_on < now() - make_interval(secs => $2)))`,
    [ENTITY_QUEUE, cluster.leaseSeconds],
  );
  const requeued: string[] = [];
  for (const row of rows) {
    const done = await cluster.transaction(async (client) => {
      const locked = await client.query<{ active_job: string | null }>(
        `SELECT CASE WHEN j.state = 'active' THEN j.id::text END AS active_job FROM ${S}.run_entities AS re
         LEFT JOIN ${QUEUE_SCHEMA}.job AS j ON j.name = $3 AND j.id = re.job_id
         WHERE re.run_id = $1 AND re.entity = $2 AND re.status = 'queued'
           AND (j.id IS NULL OR j.state IN ('completed', 'cancelled', 'failed') OR (j.state = 'active' AND j.started_on < now() - make_interval(secs => $4)))
         FOR UPDATE OF re SKIP LOCKED`,
        [row.run_id, row.entity, ENTITY_QUEUE, cluster.leaseSeconds],
      );
      if (!locked.rows[0]) return false;
      if (locked.rows[0].active_job) await cluster.queue.cancel(client, locked.rows[0].active_job);
      await cluster.enqueue(client, { runId: row.run_id, source: row.source, entity: row.entity, reason: "later" });
      return true;
    });
    if (done) requeued.push(`${row.source}.${row.entity}`);
  }
  return requeued;
}
