// The `mako` command as a user runs it: whole processes, start-up included. Start-up is
// judged against `node -e 0` measured in the same run (alternating, median of several runs);
// memory is the sync process's own peak RSS (VmHWM from /proc, polled while it runs).
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = join(repo, "api", "bin", "mako.js");

export interface StartupResult {
  /** Median wall time of each command, in ms. */
  medians: Record<string, number>;
  runs: number;
}

/** Median whole-process time of `node -e 0` and of each mako command, run in turn `runs` times. */
export function measureStartup(commands: Record<string, string[]>, runs: number): StartupResult {
  const home = mkdtempSync(join(tmpdir(), "mako-bench-cli-"));
  try {
    const env = { ...process.env, MAKO_HOME: home };
    const all: Record<string, string[]> = { "node -e 0": ["-e", "0"] };
    for (const [name, args] of Object.entries(commands)) all[name] = [bin, ...args];
    // The first run of each warms the file cache and creates mako.db; it is not counted.
    for (const args of Object.values(all)) spawnSync(process.execPath, args, { env, stdio: "ignore" });
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(all).map((k) => [k, []]));
    for (let i = 0; i < runs; i++) {
      for (const [name, args] of Object.entries(all)) {
        const started = process.hrtime.bigint();
        const r = spawnSync(process.execPath, args, { env, stdio: "ignore" });
        if (r.status !== 0) throw new Error(`${name} exited with ${r.status}`);
        times[name].push(Number(process.hrtime.bigint() - started) / 1e6);
      }
    }
    const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
    return { medians: Object.fromEntries(Object.entries(times).map(([k, a]) => [k, median(a)])), runs };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Runs `mako sync` of `users` sample users in a fresh MAKO_HOME; its peak RSS in MB and its time. */
export async function measureSyncProcess(users: number): Promise<{ peakRssMb: number; seconds: number }> {
  const home = mkdtempSync(join(tmpdir(), "mako-bench-cli-"));
  try {
    const env = { ...process.env, MAKO_HOME: home };
    const add = spawnSync(process.execPath, [bin, "sources", "add", "bench", "--connector", "sample", "--config-json", JSON.stringify({ count: users })], { env, encoding: "utf8" });
    if (add.status !== 0) throw new Error(`sources add failed: ${add.stderr}`);
    const started = Date.now();
    const child = spawn(process.execPath, [bin, "sync", "bench"], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    let peakKb = 0;
    const poll = () => {
      try {
        const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
      } catch {
        // The process has just ended.
      }
    };
    const timer = setInterval(poll, 20);
    const code: number = await new Promise((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
    clearInterval(timer);
    if (code !== 0) throw new Error(`mako sync exited with ${code}: ${stderr.trim().split("\n").pop()}`);
    if (peakKb === 0) throw new Error("cannot read the sync process's peak RSS (needs Linux's /proc)");
    return { peakRssMb: peakKb / 1024, seconds: (Date.now() - started) / 1000 };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as { port: number }).port;
  await new Promise((ok) => server.close(ok));
  return port;
}

/**
 * Whole-process time of `mako sync` of a Stripe source (10 entities) that cannot be reached:
 * nothing listens on its port, or its host name does not resolve (.invalid, RFC 2606).
 */
export async function measureUnreachableSync(): Promise<Record<string, number>> {
  const home = mkdtempSync(join(tmpdir(), "mako-bench-cli-"));
  try {
    const env = { ...process.env, MAKO_HOME: home };
    const cases = { "closed port": `http://127.0.0.1:${await closedPort()}`, "unresolvable host": "http://stripe.mako-bench.invalid" };
    const seconds: Record<string, number> = {};
    for (const [name, baseUrl] of Object.entries(cases)) {
      const source = name.replace(/\W/g, "_");
      const config = JSON.stringify({ api_key: "sk_test_bench", base_url: baseUrl });
      const add = spawnSync(process.execPath, [bin, "sources", "add", source, "--connector", "stripe", "--config-json", config, "--no-test"], { env, encoding: "utf8" });
      if (add.status !== 0) throw new Error(`sources add failed: ${add.stderr}`);
      const started = process.hrtime.bigint();
      const sync = spawnSync(process.execPath, [bin, "sync", source], { env, encoding: "utf8" });
      seconds[name] = Number(process.hrtime.bigint() - started) / 1e9;
      if (sync.status === 0) throw new Error(`mako sync of an unreachable source (${name}) succeeded`);
    }
    return seconds;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
