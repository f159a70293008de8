import { createRequire } from "node:module";

// Loaded on the first YAML text, not with the connectors: every `mako` command loads those,
// and only a config written in YAML needs the parser.
const load = createRequire(import.meta.url);
const parseYaml = (text: string): unknown => (load("yaml") as typeof import("yaml")).parse(text);

/**
 * Reads a connector config written as JSON or YAML (YAML is a superset of JSON, but JSON is
 * tried first so its error messages stay JSON's). Throws one line naming the position.
 */
export function parseConnectorConfigText(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "") throw new Error("config: empty text");
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return JSON.parse(trimmed);
    } catch {
      // Flow-style YAML also starts with "{": fall through to the YAML parser.
    }
  }
  try {
    return parseYaml(text);
  } catch (err) {
    const where = err?.linePos?.[0] ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : "";
    // The message's first line, without the position the `yaml` package already appends.
    const reason = String(err?.message ?? err).split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw new Error(`config: not valid JSON or YAML${where}: ${reason}`);
  }
}
