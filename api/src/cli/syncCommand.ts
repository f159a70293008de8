import type { Mako } from "../Mako";
import { CliError, ProgressView, summaryLine } from "./output";

export interface SyncCommandOptions {
  entity?: string[];
  fullRefresh?: boolean;
  destination?: string;
}

/**
 * Runs a sync in the foreground: live progress on a terminal, one summary line per entity,
 * exit 0 only when every entity finished. Ctrl-C stops at the next chunk boundary.
 */
export async function syncCommand(mako: Mako, name: string, options: SyncCommandOptions): Promise<void> {
  const view = new ProgressView();
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write("\nstopping at the next chunk boundary (Ctrl-C again to quit now; the next sync resumes)\n");
    controller.abort(new Error("interrupted"));
  };
  process.on("SIGINT", onSigint);
  try {
    const { runId, done } = await mako.sync(name, {
      entities: options.entity,
      fullRefresh: options.fullRefresh,
      destination: options.destination,
      signal: controller.signal,
      onEvent: view.onEvent,
    });
    const result = await done;
    view.finish();
    for (const entity of result.entities) console.log(summaryLine(entity));
    const s = result.stats;
    if (s.requests > 0) {
      console.log(`requests: ${s.requests}, retries: ${s.retries}, rate limited: ${s.rateLimited}, waited ${(s.waitMs / 1000).toFixed(1)} s`);
    }
    if (result.status !== "succeeded") {
      throw new CliError(`sync of "${name}" ${result.status} (run ${runId})${result.error ? `: ${result.error}` : ""}`);
    }
  } finally {
    view.finish();
    process.off("SIGINT", onSigint);
  }
}
