import { z } from "zod";
import { MAX_CONFIG_DEPTH, deeperThan } from "../connectors/base/nesting";
import { issuePath } from "../connectors/base/validateConfig";
import { ApiError } from "./httpErrors";

// Request bodies. Config contents are checked against the connector's own zod schema (see
// configValidation.ts); these only fix the envelope.

const settings = z.record(z.string(), z.unknown());
/** A source's saved entity selection; null or [] = all. Unknown names are refused by the facade. */
const entities = z.array(z.string().min(1).max(200)).max(500).nullish();

export const addSourceBody = z.object({
  name: z.string().min(1),
  connector: z.string().min(1),
  config: z.record(z.string(), z.unknown()).default({}),
  settings: settings.optional(),
  destination: z.string().min(1).nullish(),
  entities,
  /** Test the connection first; on failure nothing is stored (a 422 with `field: "test"`). */
  test: z.boolean().optional(),
  /** Tables or checkpoints an earlier source of this name left: continue from them, or drop them first (409 with `field: "data"` otherwise). */
  data: z.enum(["adopt", "drop"], { error: 'must be "adopt" or "drop"' }).optional(),
});

/** DELETE /api/sources/NAME: what becomes of the source's synced data. */
export const removeQuery = z.object({
  data: z.enum(["drop", "keep"], { error: (i) => (i.input === undefined ? 'required: "drop" (delete its tables and checkpoints) or "keep"' : 'must be "drop" or "keep"') }),
});

export const patchSourceBody = z
  .object({
    config: z.record(z.string(), z.unknown()).optional(),
    settings: settings.optional(),
    destination: z.string().min(1).nullish(),
    entities,
  })
  .strict();

export const testConfigBody = z.object({ config: z.record(z.string(), z.unknown()).default({}) });

export const syncBody = z
  .object({
    entities: z.array(z.string().min(1)).optional(),
    fullRefresh: z.boolean().optional(),
    destination: z.string().min(1).optional(),
  })
  .strict();

export const rowsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

/** Parses `input` or throws a 400 naming the first offending field. */
export function parseOr400<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issuePath(issue.path);
  const why = issue.code === "unrecognized_keys" ? `unknown field ${issue.keys.map((k) => `"${k}"`).join(", ")}` : issue.message;
  throw new ApiError(400, `invalid ${what}: ${field ? `${field}: ` : ""}${why}`, field || (issue.code === "unrecognized_keys" ? issue.keys[0] : undefined));
}

/** No request body needs more levels than a config and its envelope; deeper ones are refused unread. */
const MAX_BODY_DEPTH = 2 * MAX_CONFIG_DEPTH;

/**
 * The JSON body of a request; a body that is not JSON, or nests deeper than any request needs,
 * is a 400, an empty one is `{}`. (Its size is capped before it is read: see createServer.)
 */
export async function jsonBody(req: { text(): Promise<string> }): Promise<unknown> {
  const text = await req.text(); // within the body cap createServer sets before any route reads it
  if (!text.trim()) return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(400, "the request body is not valid JSON");
  }
  if (deeperThan(body, MAX_BODY_DEPTH)) throw new ApiError(400, `the request body nests deeper than ${MAX_BODY_DEPTH} levels`);
  return body;
}
