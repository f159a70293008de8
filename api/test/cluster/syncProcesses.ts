// Starts N processes that each sync one entity, with the rate limit shared in PostgreSQL, and
// lets a test start them together and stop them. The cluster tests depend only on this
// interface, so `mako worker` processes can replace these children.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { DataSourceSettings } from "../../src/connectors/base/types";
import type { RunResult } from "../../src/sync/events";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");

export interface SyncProcessSpec {
  /** PostgreSQL holding the shared rate limits. */
  databaseUrl: string;
  /** The data source's name: the limiter key, unless settings.rateLimitGroup is set. */
  source: string;
  /** RatedApiConnector's config (base_url, token). */
  config: { base_url: string; token: string };
  settings: DataSourceSettings;
  entity: string;
}

export interface ProcessOutcome {
  code: number | null;
  status?: RunResult["status"];
  stats?: RunResult["stats"];
  /** The reservation log: when each slot granted to it starts, epoch ms on the database clock. */
  slotStarts: number[];
  stderr: string;
}

export interface SyncProcesses {
  /** Starts every process's sync at once. */
  go(): void;
  /** Asks each to stop (SIGTERM) and waits for them to exit. */
  stop(): Promise<ProcessOutcome[]>;
}

/** Starts one process per spec; resolves once all are loaded and waiting for `go()`. */
export async function startSyncProcesses(specs: SyncProcessSpec[]): Promise<SyncProcesses> {
  const dir = mkdtempSync(join(tmpdir(), "mako-sync-procs-"));
  const children = specs.map((spec, i) => startChild({ ...spec, dbPath: join(dir, `dest_${i}.db`) }));
  try {
    await Promise.all(children.map((c) => c.ready));
  } catch (err) {
    children.forEach((c) => c.child.kill("SIGKILL"));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    go: () => children.forEach((c) => c.child.stdin!.write("go\n")),
    async stop() {
      children.forEach((c) => c.child.kill("SIGTERM"));
      const outcomes = await Promise.all(children.map((c) => c.exited));
      rmSync(dir, { recursive: true, force: true });
      return outcomes;
    },
  };
}

function startChild(spec: SyncProcessSpec & { dbPath: string }) {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(here, "syncEntityChild.ts"), JSON.stringify(spec)], {
    cwd: repo,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  let onReady: () => void;
  let onFail: (err: Error) => void;
  const ready = new Promise<void>((res, rej) => ((onReady = res), (onFail = rej)));
  child.stdout!.on("data", (d) => {
    stdout += d;
    if (stdout.includes('{"ready":true}')) onReady();
  });
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<ProcessOutcome>((res) =>
    child.on("exit", (code) => {
      onFail(new Error(`sync process exited before it was ready (code ${code}): ${stderr.trim().slice(0, 500)}`));
      const last = stdout.trim().split("\n").filter((l) => l.startsWith('{"result"')).pop();
      const result = last ? JSON.parse(last).result : undefined;
      res({ code, status: result?.status, stats: result?.stats, slotStarts: result?.slotStarts ?? [], stderr });
    }),
  );
  return { child, ready, exited };
}
