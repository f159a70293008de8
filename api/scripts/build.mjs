// Compiles the `mako` command to JavaScript in api/dist/cli, so that it starts without
// compiling TypeScript. Run by `npm install` (the root `prepare` script) and by `npm test`;
// bin/mako.js runs the TypeScript sources instead whenever this build is missing or older
// than them, so a stale build is never what runs.
import { build } from "esbuild";
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const apiDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distDir = join(apiDir, "dist");
const outDir = join(distDir, "cli");
// Built beside the live build and swapped in by rename: a process starting meanwhile sees the
// old build, no build (and runs the sources), or the new one, never half of one.
const tempDir = join(distDir, `.cli-${process.pid}`);

// Packages with native code, and the drivers and server only some commands load: left to
// node_modules, so that they are loaded (by dynamic imports) only where used. Everything else
// (zod, commander, yaml) is bundled: one file read instead of hundreds at each start.
const external = ["better-sqlite3", "@duckdb/node-api", "pg", "pg-boss", "pg-copy-streams", "mysql2", "hono", "@hono/node-server", "tsx"];

const started = Date.now();
rmSync(tempDir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: apiDir,
  entryPoints: { main: "src/cli/main.ts" },
  outdir: tempDir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: external.flatMap((name) => [name, `${name}/*`]),
  // Bundled CommonJS packages call require(): give the ES module one.
  banner: { js: 'import { createRequire as __makoRequire } from "node:module"; const require = __makoRequire(import.meta.url);' },
  // Less text for V8 to read at each start; names stay, so stack traces (MAKO_DEBUG=1) read.
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: "linked",
  metafile: true,
  logLevel: "warning",
});

// What bin/mako.js compares with the files on disk: every source file of the build, with the
// modification time and size it had when built.
const inputs = {};
for (const input of Object.keys(result.metafile.inputs)) {
  if (input.includes("node_modules/")) continue;
  const file = resolve(apiDir, input);
  const { mtimeMs, size } = statSync(file);
  // Changed while the build read it: the build may hold the old text, so record it as stale.
  inputs[relative(apiDir, file)] = [mtimeMs >= started ? -1 : mtimeMs, size];
}
writeFileSync(join(tempDir, "manifest.json"), JSON.stringify({ builtAt: new Date().toISOString(), inputs }));

mkdirSync(distDir, { recursive: true });
const oldDir = join(distDir, `.old-${process.pid}`);
try {
  renameSync(outDir, oldDir);
} catch (err) {
  if (err.code !== "ENOENT") throw err;
}
renameSync(tempDir, outDir);
rmSync(oldDir, { recursive: true, force: true });
console.log(`built ${relative(process.cwd(), outDir) || outDir} from ${Object.keys(inputs).length} source files in ${Date.now() - started} ms`);
