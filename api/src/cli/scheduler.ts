import type { Cluster } from "../cluster/Cluster";
import type { Mako } from "../Mako";

export interface RunningScheduler {
  stop(): Promise<void>;
}

/**
 * The scheduler of `mako serve`, `npm start` and `mako worker`. With the metadata in the SQLite
 * file it syncs in this process; with DATABASE_URL=postgres://… a fire hands the run to the
 * workers (`mako worker`), as `mako sync --enqueue` does — a worker's own cluster when given.
 */
export async function startScheduler(mako: Mako, options: { cluster?: Cluster; log?: (line: string) => void } = {}): Promise<RunningScheduler> {
  const log = options.log ?? ((line: string) => console.log(line));
  const { InProcessLauncher, Scheduler, tickMsFromEnv } = await import("../schedules");
  if (mako.embedded) {
    const scheduler = new Scheduler(mako.store.schedules, new InProcessLauncher(mako, log), { tickMs: tickMsFromEnv(), log }).start();
    return { stop: () => scheduler.stop() };
  }
  const [{ Cluster }, { QueueLauncher }] = await Promise.all([import("../cluster/Cluster"), import("../cluster/QueueLauncher")]);
  const cluster = options.cluster ?? (await Cluster.open(mako, { connections: 2, maintain: false, onError: (err) => log(`queue: ${err.message}`) }));
  const scheduler = new Scheduler(mako.store.schedules, new QueueLauncher(cluster, log), { tickMs: tickMsFromEnv(), log }).start();
  return {
    stop: async () => {
      await scheduler.stop();
      if (!options.cluster) await cluster.close();
    },
  };
}
