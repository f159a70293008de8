import { z } from "zod";

/**
 * Marks a config field as secret: it is encrypted at rest, never printed or returned by the
 * API, and shown as a password input in the UI. Call it last (after `.describe()`), since
 * zod keeps metadata per schema instance.
 */
export function secret<T extends z.ZodType>(schema: T, description?: string): T {
  return schema.meta({ secret: true, ...(description ? { description } : {}) }) as T;
}

/** True when the schema (or the schema it wraps as optional/default) is marked secret. */
export function isSecretSchema(schema: z.ZodType): boolean {
  let s: z.ZodType | undefined = schema;
  while (s) {
    if (s.meta()?.secret === true) return true;
    const inner: unknown = (s as any)._zod?.def?.innerType;
    s = inner instanceof z.ZodType ? inner : undefined;
  }
  return false;
}
