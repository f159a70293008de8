import { execFile, spawn, type ChildProcess } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = join(repo, "api/bin/mako.js");

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `mako` command on a home. */
export function runMako(home: string, args: string[], env: Record<string, string> = {}): Promise<CliOutcome> {
  return new Promise((ok) => {
    execFile(process.execPath, [bin, ...args], { cwd: repo, env: { ...process.env, MAKO_HOME: home, ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      ok({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Starts `mako …` without waiting for it, to kill it mid-way. */
export function startMako(home: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; output(): string } {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repo, env: { ...process.env, MAKO_HOME: home, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return { child, output: () => out };
}
