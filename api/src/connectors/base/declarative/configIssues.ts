import { z } from "zod";

// zod's default messages ("Invalid input: expected string, received undefined") bury the
// point; these say "required" or name the expected kind.
function kindMessage(kind: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? "required" : `must be ${kind}`);
}

export function requiredText() {
  return z.string({ error: kindMessage("a string") }).min(1, "must not be empty");
}

export function optionalText() {
  return z.string({ error: kindMessage("a string") }).min(1, "must not be empty").optional();
}

export function urlText() {
  return z
    .string({ error: kindMessage("a URL") })
    .refine((value) => /^https?:\/\/[^\s/]+/.test(value), "must be an http(s) URL");
}

export function positiveInt() {
  return z.number({ error: kindMessage("a number") }).int("must be a whole number").positive("must be positive");
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, {
    error: (issue) =>
      issue.input === undefined ? "required" : `"${String(issue.input)}" is not one of: ${values.join(", ")}`,
  });
}

/** An object that rejects unknown fields (typos) by name. */
export function fields<S extends z.ZodRawShape>(shape: S) {
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === "unrecognized_keys") {
        return `unknown field ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
      }
      return issue.input === undefined ? "required" : "must be an object";
    },
  });
}

/** A union on `type` whose error lists the allowed types. */
export function typed<const Options extends readonly [z.core.$ZodTypeDiscriminable, ...z.core.$ZodTypeDiscriminable[]]>(
  types: readonly string[],
  options: Options,
) {
  return z.discriminatedUnion("type", options, {
    error: (issue) => {
      const given = (issue.input as { type?: unknown } | undefined)?.type ?? issue.input;
      if (issue.input === undefined) return "required";
      if (typeof issue.input !== "object" || issue.input === null) return "must be an object";
      return given === undefined
        ? `type: required (one of: ${types.join(", ")})`
        : `"${String(given)}" is not one of: ${types.join(", ")}`;
    },
  });
}

/** `rate_limit` of a described API: its documented limit, the default for the shared limiter. */
export const rateLimitSchema = fields({
  requests_per_second: z.number({ error: "must be a number" }).positive("must be positive"),
  burst: positiveInt().optional(),
  max_concurrent: positiveInt().optional(),
});
