import type { Mako } from "../Mako";
import type { RunRecord } from "../store/MetadataStore";
import { CliError, fmt, summaryLine, workedBy } from "./output";
import type { SyncCommandOptions } from "./syncCommand";
import { refuseWithoutPostgres } from "./workerCommand";

const POLL_MS = 500;
/** How long the run's database may stay unreachable before --wait gives up. */
const GIVE_UP_MS = 120_000;

/**
 * `mako sync NAME --enqueue`: hands the run to the workers and prints its id. With `--wait`,
 * follows it from the store (any worker's progress and log) and exits 0 only when it succeeded.
 */
export async function enqueueCommand(mako: () => Promise<Mako>, name: string, options: SyncCommandOptions & { wait?: boolean }): Promise<void> {
  refuseWithoutPostgres("mako sync --enqueue");
  const m = await mako();
  const { Cluster } = await import("../cluster/Cluster");
  const cluster = await Cluster.open(m, { connections: 2, maintain: false });
  let runId: string;
  try {
    runId = await cluster.requestRun(name, { entities: options.entity, fullRefresh: options.fullRefresh, destination: options.destination, trigger: "cli" });
  } finally {
    await cluster.close();
  }
  console.log(runId);
  if (!options.wait) return;
  const run = await follow(m, runId);
  for (const entity of run.entities) console.log(summaryLine(entity) + workedBy(entity));
  if (run.status !== "succeeded") throw new CliError(`sync of "${name}" ${run.status} (run ${runId})${run.error ? `: ${run.error}` : ""}`);
}

/** Prints the run's warnings and errors as they are logged (and progress on a terminal) until it ends. */
async function follow(m: Mako, runId: string): Promise<RunRecord> {
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\nno longer waiting: the run goes on in the workers (see: npx mako runs; cancel: npx mako runs cancel ${runId})\n`);
  };
  process.on("SIGINT", onSigint);
  let afterId = 0;
  let drawn = "";
  let lostSince: number | undefined;
  try {
    for (;;) {
      let run: RunRecord;
      try {
        for (const line of await m.runs.logs(runId, { afterId, limit: 1000 })) {
          afterId = line.id;
          if (line.level === "warn" || line.level === "error") process.stderr.write(`${line.level}: ${line.entity ? `${line.entity}: ` : ""}${line.message}\n`);
        }
        run = await m.runs.get(runId);
        lostSince = undefined;
      } catch (err) {
        // The database restarting is waited out, as the workers wait it out.
        if (lostSince === undefined) process.stderr.write(`cannot read the run (${err.message}); trying again\n`);
        lostSince ??= Date.now();
        if (Date.now() - lostSince > GIVE_UP_MS) throw err;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        continue;
      }
      if (run.status !== "running") return run;
      if (interrupted) throw new CliError(`stopped waiting for run ${runId}; it is still running`, 130);
      if (process.stderr.isTTY) {
        const now = run.entities.map((e) => `${e.entity} ${fmt(e.records)}`).join(", ");
        if (now !== drawn) process.stderr.write(`\r\x1b[2K${now}`);
        drawn = now;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    if (drawn) process.stderr.write("\r\x1b[2K");
    process.off("SIGINT", onSigint);
  }
}
