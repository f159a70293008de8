// Whether the compiled CLI in `dist` was built from the source files as they are now: the
// build's manifest lists each source file with the modification time and size it had.
import { readFileSync, statSync } from "node:fs";

/** @param {URL} dist the build's folder  @param {URL} root the folder its manifest's paths are relative to */
export function buildIsCurrent(dist, root) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL("manifest.json", dist), "utf8"));
  } catch {
    return false;
  }
  const inputs = Object.entries(manifest?.inputs ?? {});
  if (inputs.length === 0) return false;
  for (const [file, [mtimeMs, size]] of inputs) {
    try {
      const now = statSync(new URL(file, root));
      if (now.mtimeMs !== mtimeMs || now.size !== size) return false;
    } catch {
      return false;
    }
  }
  return true;
}
