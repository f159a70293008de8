export { InProcessLauncher, type LaunchResult, type RunLauncher } from "./RunLauncher";
export { Scheduler, tickMsFromEnv, type FireReport, type SchedulerOptions } from "./Scheduler";

