import { z } from "zod";

const SENSITIVE = /(pass(word)?|secret|token|api[-_]?key|private[-_]?key|authorization|credentials?)$/i;
export const REDACTED = "********";

/** Names of the properties a connector's schema marks secret (anywhere in the schema). */
export function secretFieldNames(schema: z.ZodType): Set<string> {
  const names = new Set<string>();
  let json: unknown;
  try {
    json = z.toJSONSchema(schema, { unrepresentable: "any", io: "input" });
  } catch {
    return names;
  }
  const walk = (node: unknown) => {
    if (!node || typeof node !== "object") return;
    if (Array.isArray(node)) return node.forEach(walk);
    const props = (node as { properties?: Record<string, { secret?: boolean }> }).properties;
    if (props) for (const [name, prop] of Object.entries(props)) if (prop?.secret === true) names.add(name);
    Object.values(node).forEach(walk);
  };
  walk(json);
  return names;
}

/** A copy of a config with every secret value replaced, for printing and for the API. */
export function redactConfig(config: unknown, secretNames: Set<string>): unknown {
  if (Array.isArray(config)) return config.map((v) => redactConfig(v, secretNames));
  if (!config || typeof config !== "object") return config;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    const secret = secretNames.has(key) || (SENSITIVE.test(key) && (typeof value === "string" || typeof value === "number"));
    out[key] = secret ? (value === "" || value == null ? value : REDACTED) : redactConfig(value, secretNames);
  }
  return out;
}
