import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const DOCS = ["../../../README.md", "../../../docs/declarative.md"].map((p) => fileURLToPath(new URL(p, import.meta.url)));

/**
 * The YAML block that follows `<!-- example: NAME -->`, verbatim. The README and
 * docs/declarative.md both show it: they must show the same text, so neither can rot.
 */
export function docExample(name: string): string {
  const blocks = DOCS.map((doc) => {
    const match = new RegExp(`<!-- example: ${name} -->\\s*\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(readFileSync(doc, "utf8"));
    if (!match) throw new Error(`${doc} has no "${name}" example`);
    return match[1];
  });
  if (blocks[0] !== blocks[1]) throw new Error(`the "${name}" example differs between README.md and docs/declarative.md`);
  return blocks[0];
}
