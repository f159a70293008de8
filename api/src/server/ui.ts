import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { apiRoot } from "../apiRoot";

const repoRoot = dirname(apiRoot);

/** Where `vite build` puts the web UI, and where the server serves it from. */
export const uiDistDir = join(repoRoot, "app", "dist");

/**
 * Builds the web UI with the workspace's own vite when `app/dist` is missing (a fresh clone),
 * so `npm start` works without a separate build step. Returns the dist directory.
 */
export async function ensureUiBuilt(options: { force?: boolean; log?: (line: string) => void } = {}): Promise<string> {
  if (!options.force && existsSync(join(uiDistDir, "index.html"))) return uiDistDir;
  const vite = join(repoRoot, "node_modules", ".bin", "vite");
  if (!existsSync(vite)) throw new Error(`cannot build the web UI: ${vite} is missing (run npm install at the repository root)`);
  options.log?.("Building the web UI (app/ → app/dist)…");
  try {
    await promisify(execFile)(vite, ["build", join(repoRoot, "app"), "--logLevel", "warn"], { cwd: repoRoot, timeout: 180_000 });
  } catch (err) {
    const detail = String(err.stderr || err.stdout || err.message).trim().split("\n").slice(-5).join("\n");
    throw new Error(`building the web UI failed: ${detail}`);
  }
  if (!existsSync(join(uiDistDir, "index.html"))) throw new Error(`building the web UI produced no ${join(uiDistDir, "index.html")}`);
  return uiDistDir;
}
