import { z } from "zod";
import { DEFAULT_RECORD_DEPTH, MAX_RECORD_DEPTH } from "./nesting";
import { RATE_LIMIT_GROUP } from "./http/httpSettings";

const count = (min: number, what: string) => z.number().int().min(min).optional().describe(what);
const amount = (min: number, what: string) => z.number().min(min).optional().describe(what);

/**
 * Every sync setting a data source may carry (`DataSourceSettings`). Strict, so a typo such
 * as `requestPerSecond` is an error naming the field rather than a setting silently ignored.
 */
export const settingsSchema = z.strictObject(
  {
  batchSize: count(1, "records per API call to ask for (default 1000)"),
  maxIterations: count(1, "API calls per chunk; one checkpoint per chunk (default 10)"),
  maxRetries: count(0, "retries of a failed request or chunk (default 5)"),
  rateLimitDelay: amount(0, "minimum spacing between requests, ms"),
  requestsPerSecond: amount(0, "sustained request rate (default: the vendor's documented limit; 0 = no limit)"),
  burst: count(1, "requests allowed at once above the rate"),
  rateLimitGroup: z
    .string()
    .regex(RATE_LIMIT_GROUP, 'use 1-63 lowercase letters, digits, "_", "-" or "."')
    .optional()
    .describe("sources with the same group share one rate limit (one vendor account)"),
  maxConcurrentRequests: count(1, "requests in flight for this source (default 4)"),
  requestTimeoutMs: count(1, "per-request timeout, ms (default 30000)"),
  maxRetryAfterMs: count(0, "longest server-requested wait before giving up, ms (default 600000)"),
  maxResponseBytes: count(1, "largest response body read from the source, bytes; a larger one ends the entity (default 67108864, 64 MB)"),
  retryBaseDelayMs: count(0, "first backoff delay, ms (default 500)"),
  retryMaxDelayMs: count(0, "longest backoff delay, ms (default 30000)"),
  retryMinDelayMs: count(1, "shortest backoff delay, ms (default 100)"),
  lookbackSeconds: amount(0, "seconds subtracted from the incremental mark, for late writes"),
  entityConcurrency: count(1, "entities of this source synced at once (default 1)"),
  maxEmptyChunks: count(1, "empty chunks in a row claiming more before a loop is declared (default 10)"),
  maxNestingDepth: z
    .number()
    .int()
    .min(1)
    .max(MAX_RECORD_DEPTH)
    .optional()
    .describe(`levels of objects/arrays a record field may nest; a deeper one ends the entity (default ${DEFAULT_RECORD_DEPTH}, at most ${MAX_RECORD_DEPTH})`),
  },
  {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown setting ${issue.keys.map((k) => `"${k}"`).join(", ")}`
        : "settings must be an object",
  },
);
