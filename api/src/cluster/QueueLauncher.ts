import type { LaunchResult, RunLauncher } from "../schedules/RunLauncher";
import { SourceBusyError } from "../store/MetadataStore";
import type { Cluster } from "./Cluster";

/**
 * Fires a schedule by handing a run to the workers, as `mako sync --enqueue` does. A source
 * that already has a run queued or running is busy: the scheduler keeps the fire pending.
 */
export class QueueLauncher implements RunLauncher {
  constructor(
    private readonly cluster: Cluster,
    private readonly log: (line: string) => void = () => {},
  ) {}

  async launch(source: string, options: { trigger: "schedule" }): Promise<LaunchResult> {
    try {
      const runId = await this.cluster.requestRun(source, { trigger: options.trigger });
      this.log(`schedule of "${source}": run ${runId} queued for the workers`);
      return { runId };
    } catch (err) {
      if (err instanceof SourceBusyError) return { busy: true, runId: err.runId };
      throw err;
    }
  }
}
