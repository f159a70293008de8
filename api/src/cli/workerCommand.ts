import type { Mako } from "../Mako";
import { isPostgresUrl } from "../store/postgresUrl";
import { CliError } from "./output";
import { untilInterrupted } from "./startCommand";

const MAX_CONCURRENCY = 64;

/** Said before anything is opened: in SQLite mode there is nothing for a worker to share. */
export function refuseWithoutPostgres(what: string): void {
  const url = process.env.DATABASE_URL;
  if (!url || !isPostgresUrl(url)) {
    throw new CliError(`${what} needs DATABASE_URL=postgres://…: workers share runs, leases and the job queue through PostgreSQL, not the SQLite file $MAKO_HOME/mako.db`);
  }
}

export function parseConcurrency(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY) throw new CliError(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY} (got "${text}")`);
  return n;
}

/**
 * Runs entity jobs until SIGTERM or Ctrl-C, then hands its entities over at their next chunk
 * boundary (a second signal quits at once; the leases then expire and other workers take over).
 */
export async function workerCommand(mako: () => Promise<Mako>, options: { concurrency: string }): Promise<void> {
  refuseWithoutPostgres("mako worker");
  const concurrency = parseConcurrency(options.concurrency);
  const { Worker } = await import("../cluster/Worker");
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  // pg-boss 10 marks a job done without awaiting it: while the database restarts that promise
  // rejects with nobody to catch it, which must not end the worker.
  process.on("unhandledRejection", (err) => log(`unfinished database call: ${(err as Error)?.message ?? String(err)}`));
  const m = await mako();
  const worker = await Worker.start(m, { concurrency, log });
  // Every worker also fires due schedules: whichever claims a slot first hands its run to the queue.
  const scheduler = await (await import("./scheduler")).startScheduler(m, { cluster: worker.cluster, log });
  log(`worker ${worker.id} takes entity jobs (concurrency ${concurrency}, lease ${worker.leaseSeconds} s, slice ${worker.sliceSeconds} s); SIGTERM or Ctrl-C stops it after the current chunks`);
  await untilInterrupted();
  await scheduler.stop();
  const quit = () => process.exit(130);
  process.once("SIGINT", quit);
  process.once("SIGTERM", quit);
  log("stopping: each entity hands over at its next chunk boundary (again to quit now)");
  await worker.stop();
  log("stopped");
}
