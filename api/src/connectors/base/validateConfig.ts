import { z } from "zod";

export type ConfigValidation<T> = { ok: true; config: T } | { ok: false; errors: string[]; field?: string };

/** `entities[2].paginator.cursor_path` from a zod issue path. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    "",
  );
}

/** Validates a config against a connector's schema; errors read `field: why`. */
export function validateConfig<T>(schema: z.ZodType<T>, input: unknown): ConfigValidation<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return { ok: true, config: parsed.data };
  const errors = parsed.error.issues.map((issue) => {
    const field = issuePath(issue.path);
    const message = issue.code === "invalid_type" && issue.message.includes("received undefined") ? "required" : issue.message;
    return field ? `${field}: ${message}` : message;
  });
  return { ok: false, errors, field: issuePath(parsed.error.issues[0]?.path ?? []) || undefined };
}
