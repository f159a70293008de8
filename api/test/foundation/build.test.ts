// The compiled CLI runs only when it was built from the sources as they are: a stale build
// is never what `mako` (and so the test suite) runs.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { buildIsCurrent } from "../../bin/buildIsCurrent.js";

const api = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A package with two source files and a build whose manifest records them as they are. */
function fakePackage() {
  const root = mkdtempSync(join(tmpdir(), "mako-build-"));
  dirs.push(root);
  mkdirSync(join(root, "src", "cli"), { recursive: true });
  mkdirSync(join(root, "dist", "cli"), { recursive: true });
  const files = ["src/cli/main.ts", "src/Mako.ts"];
  for (const f of files) writeFileSync(join(root, f), `export const file = ${JSON.stringify(f)};\n`);
  const manifest = (inputs: Record<string, [number, number]>) => writeFileSync(join(root, "dist", "cli", "manifest.json"), JSON.stringify({ inputs }));
  const recorded = () => Object.fromEntries(files.map((f) => [f, [statSync(join(root, f)).mtimeMs, statSync(join(root, f)).size] as [number, number]]));
  manifest(recorded());
  const current = () => buildIsCurrent(pathToFileURL(join(root, "dist", "cli") + "/"), pathToFileURL(root + "/"));
  return { root, manifest, recorded, current };
}

describe("the compiled CLI", () => {
  it("is current only while every source file it was built from is unchanged", () => {
    const pkg = fakePackage();
    expect(pkg.current()).toBe(true);

    // A source file edited after the build (same size, newer time): stale.
    const main = join(pkg.root, "src/cli/main.ts");
    const later = new Date(statSync(main).mtimeMs + 5000);
    utimesSync(main, later, later);
    expect(pkg.current()).toBe(false);
    pkg.manifest(pkg.recorded());
    expect(pkg.current()).toBe(true);

    // Same time, other size (a checkout that kept the time): stale.
    const { mtime } = statSync(main);
    writeFileSync(main, "export const file = 'changed, and longer';\n");
    utimesSync(main, mtime, mtime);
    expect(pkg.current()).toBe(false);
    pkg.manifest(pkg.recorded());

    // A source file gone, a manifest gone or empty, or unreadable: not current.
    rmSync(join(pkg.root, "src/Mako.ts"));
    expect(pkg.current()).toBe(false);
    writeFileSync(join(pkg.root, "src/Mako.ts"), "x");
    pkg.manifest(pkg.recorded());
    expect(pkg.current()).toBe(true);
    pkg.manifest({});
    expect(pkg.current()).toBe(false);
    writeFileSync(join(pkg.root, "dist/cli/manifest.json"), "{not json");
    expect(pkg.current()).toBe(false);
    rmSync(join(pkg.root, "dist"), { recursive: true });
    expect(pkg.current()).toBe(false);
  });

  it("npm run build makes a current build of every source file the command loads", () => {
    execFileSync(process.execPath, [join(api, "scripts", "build.mjs")], { stdio: "pipe" });
    const dist = pathToFileURL(join(api, "dist", "cli") + "/");
    expect(buildIsCurrent(dist, pathToFileURL(api + "/"))).toBe(true);
    const inputs = Object.keys(JSON.parse(readFileSync(join(api, "dist", "cli", "manifest.json"), "utf8")).inputs);
    for (const file of ["src/cli/main.ts", "src/Mako.ts", "src/connectors/registry.ts", "src/server/createServer.ts", "src/sync/EntitySync.ts"]) {
      expect(inputs).toContain(file);
    }
    expect(inputs.some((f) => f.includes("node_modules"))).toBe(false);
    // The build runs: what `npx mako` executes when it is current.
    expect(execFileSync(process.execPath, [join(api, "dist", "cli", "main.js"), "--version"], { encoding: "utf8" }).trim()).toBe("0.1.0");
  });
});
