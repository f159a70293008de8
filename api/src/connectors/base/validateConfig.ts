import { z } from "zod";
import { findUnknownKeys } from "./unknownKeys";

export type ConfigValidation<T> = { ok: true; config: T } | { ok: false; errors: string[]; field?: string };

/** `entities[2].paginator.cursor_path` from a zod issue path. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    "",
  );
}

/**
 * Validates a config against a connector's schema; errors read `field: why`. A key the schema
 * has no place for is an error at any depth, naming it and the keys that are known there
 * (`noun` words it: "field" for configs, "setting" for settings).
 */
export function validateConfig<T>(schema: z.ZodType<T>, input: unknown, noun = "field"): ConfigValidation<T> {
  const found = findUnknownKeys(schema, input);
  const unknown = found.map((u) => {
    const where = issuePath(u.path);
    const keys = u.keys.map((k) => `"${k}"`).join(", ");
    const known = u.known.length ? ` (${noun}s are: ${u.known.join(", ")})` : "";
    return { field: issuePath([...u.path, u.keys[0]]), message: `${where ? `${where}: ` : ""}unknown ${noun}${u.keys.length > 1 ? "s" : ""} ${keys}${known}` };
  });
  const parsed = schema.safeParse(input);
  if (parsed.success && unknown.length === 0) return { ok: true, config: parsed.data };
  // Strict objects report unknown keys too: those said above (with the known keys) are not repeated.
  const said = new Set(found.map((u) => issuePath(u.path)));
  const issues = parsed.success ? [] : parsed.error.issues.filter((issue) => issue.code !== "unrecognized_keys" || !said.has(issuePath(issue.path)));
  const errors = [
    ...unknown.map((u) => u.message),
    ...issues.map((issue) => {
      const field = issuePath(issue.path);
      const message = issue.code === "invalid_type" && issue.message.includes("received undefined") ? "required" : issue.message;
      return field ? `${field}: ${message}` : message;
    }),
  ];
  const field = unknown[0]?.field ?? (issuePath(issues[0]?.path ?? []) || undefined);
  return { ok: false, errors, field: field || undefined };
}
