import { z } from "zod";
import type { EntityCheckpoint, TableRef } from "./Destination";

const since = z.union([z.string(), z.number()]).nullable();

const checkpointSchema = z.object({
  runId: z.string(),
  seq: z.number().int().min(0),
  mode: z.enum(["incremental", "full_refresh"]),
  since,
  passStartedAt: z.string(),
  fetchState: z
    .object({ hasMore: z.boolean() })
    .passthrough()
    .nullable(),
  maxCursor: since,
  highWaterMark: since,
  records: z.number().int().min(0),
});

/** A stored checkpoint that cannot be read: the user must reset the entity with a full refresh. */
export class MalformedCheckpointError extends Error {
  readonly retryable = false;
  constructor(ref: TableRef, cause: string) {
    super(
      `malformed checkpoint for ${ref.namespace}.${ref.entity} (${cause}); ` +
        `run a full refresh of that entity to start it over`,
    );
  }
}

/** Parses a checkpoint as destinations store it (JSON), naming what is wrong when it is not one. */
export function parseCheckpoint(text: string, ref: TableRef): EntityCheckpoint {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new MalformedCheckpointError(ref, "not JSON");
  }
  const parsed = checkpointSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MalformedCheckpointError(ref, `${issue.path.join(".") || "checkpoint"}: ${issue.message}`);
  }
  return parsed.data as EntityCheckpoint;
}
