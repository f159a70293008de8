import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const DOC = fileURLToPath(new URL("../../../docs/declarative.md", import.meta.url));

/** The YAML block that follows `<!-- example: NAME -->` in docs/declarative.md, verbatim. */
export function docExample(name: string): string {
  const text = readFileSync(DOC, "utf8");
  const match = new RegExp(`<!-- example: ${name} -->\\s*\`\`\`yaml\\n([\\s\\S]*?)\`\`\``).exec(text);
  if (!match) throw new Error(`docs/declarative.md has no "${name}" example`);
  return match[1];
}
