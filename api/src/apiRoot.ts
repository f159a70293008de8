import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The api package's folder (the one holding package.json and src/), found from this module's
 * location: it runs from src/ under tsx and from the compiled build in dist/.
 */
export const apiRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "src", "connectors"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the api package above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
})();
