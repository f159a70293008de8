import { z } from "zod";

/**
 * Marks a config field as secret: it is encrypted at rest, never printed or returned by the
 * API, redacted from every log line and error, and shown as a password input in the UI. Call
 * it last (after `.describe()`), since zod keeps metadata per schema instance.
 */
export function secret<T extends z.ZodType>(schema: T, description?: string): T {
  return schema.meta({ ...schema.meta(), secret: true, ...(description ? { description } : {}) }) as T;
}

/**
 * Marks a config field that decides where requests (and so the secrets) go: a base URL, an
 * endpoint, a host, a token URL, a region. Changing it without entering the secrets again is
 * refused, so a stored key cannot be sent to a new host. Call it last, like `secret()`.
 */
export function requestTarget<T extends z.ZodType>(schema: T): T {
  return schema.meta({ ...schema.meta(), requestTarget: true }) as T;
}

/**
 * Marks a map of header or query parameter values: entries whose names look like credentials
 * (`Cookie`, `X-Auth`, `access_key`…) are treated as secret, besides those written `{secret: …}`.
 */
export function credentialMap<T extends z.ZodType>(schema: T): T {
  return schema.meta({ ...schema.meta(), credentialNames: true }) as T;
}

/** True when the schema (or the schema it wraps as optional/default) is marked secret. */
export function isSecretSchema(schema: z.ZodType): boolean {
  return hasMark(schema, "secret");
}

/** True when the schema, or one it wraps (optional, default…), carries the meta flag `mark`. */
export function hasMark(schema: z.ZodType, mark: "secret" | "requestTarget" | "credentialNames"): boolean {
  let s: z.ZodType | undefined = schema;
  while (s) {
    if (s.meta()?.[mark] === true) return true;
    const inner: unknown = (s as any)._zod?.def?.innerType;
    s = inner instanceof z.ZodType ? inner : undefined;
  }
  return false;
}
