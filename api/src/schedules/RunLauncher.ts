import type { Mako } from "../Mako";
import { SourceBusyError } from "../store/MetadataStore";

/** A fire's outcome: the run it started (or enqueued), or the source already had one. */
export type LaunchResult = { runId: string } | { busy: true; runId?: string };

/**
 * How a scheduler turns a fire into a run. `mako serve` runs it in its own process
 * (InProcessLauncher); a cluster of workers would enqueue a run request instead. Anything
 * thrown is recorded as the schedule's last error.
 */
export interface RunLauncher {
  launch(source: string, options: { trigger: "schedule" }): Promise<LaunchResult>;
}

/** Runs the sync in this process, as `mako sync` and the UI's "Sync now" do. */
export class InProcessLauncher implements RunLauncher {
  constructor(
    private readonly mako: Mako,
    private readonly log: (line: string) => void = () => {},
  ) {}

  async launch(source: string, options: { trigger: "schedule" }): Promise<LaunchResult> {
    // Listing reaps a run whose process died; a live one means busy, before anything is opened.
    const [latest] = await this.mako.runs.list({ source, limit: 1 });
    if (latest?.status === "running") return { busy: true, runId: latest.id };
    try {
      const { runId, done } = await this.mako.sync(source, { trigger: options.trigger });
      done.then(
        (result) => this.log(`schedule of "${source}": run ${runId} ${result.status}${result.error ? `: ${result.error}` : ""}`),
        (err: Error) => this.log(`schedule of "${source}": run ${runId} failed: ${err.message}`),
      );
      return { runId };
    } catch (err) {
      // Another process started one between the look and the start.
      if (err instanceof SourceBusyError) return { busy: true, runId: err.runId };
      throw err;
    }
  }
}
