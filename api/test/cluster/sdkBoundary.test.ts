// The shared rate limit plugs into the SDK from outside: nothing under connectors/base (the
// SDK) may import cluster/, pg, the store or the engine. A slip would drag PostgreSQL into
// every connector and into SQLite mode.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const sdk = resolve(dirname(fileURLToPath(import.meta.url)), "../../src/connectors/base");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

describe("the SDK's imports", () => {
  it("never reach cluster/, pg, the store or the engine", () => {
    const files = sources(sdk);
    expect(files.length).toBeGreaterThan(10);
    const offending = files.flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)]
        .map((m) => m[1])
        .filter((spec) => /(^|\/)(cluster|store|sync)(\/|$)|^pg(-|$)/.test(spec))
        .map((spec) => `${file.slice(sdk.length + 1)} imports ${spec}`),
    );
    expect(offending).toEqual([]);
  });
});
