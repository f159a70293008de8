import type { Mako } from "../Mako";
import { InProcessLauncher } from "./RunLauncher";
import { Scheduler, tickMsFromEnv } from "./Scheduler";

export { InProcessLauncher, type LaunchResult, type RunLauncher } from "./RunLauncher";
export { Scheduler, tickMsFromEnv, type FireReport, type SchedulerOptions } from "./Scheduler";

/**
 * The scheduler of `mako serve` and `npm start`: fires due schedules by syncing in this
 * process (SQLite or PostgreSQL metadata alike). Every MAKO_SCHEDULER_TICK_MS (10 s).
 */
export function startInProcessScheduler(mako: Mako, log: (line: string) => void = (line) => console.log(line)): Scheduler {
  return new Scheduler(mako.store.schedules, new InProcessLauncher(mako, log), { tickMs: tickMsFromEnv(), log }).start();
}
