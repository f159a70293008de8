import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ConnectionTestError, ValidationError } from "../Mako";
import { ConflictError, NotFoundError, SourceBusyError } from "../store/MetadataStore";
import { UnknownEntityError } from "../sync/SyncEngine";

/** An error the API reports as `{ error, field? }` with its own status. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Maps the facade's errors to HTTP statuses; anything unexpected is a 500 with its message. */
export function errorResponse(err: Error, c: Context): Response {
  const { status, field } = classify(err);
  if (status >= 500) console.error(`mako serve: ${c.req.method} ${c.req.path} failed:`, err);
  return c.json({ error: err.message, ...(field ? { field } : {}) }, status);
}

function classify(err: Error): { status: ContentfulStatusCode; field?: string } {
  if (err instanceof ApiError) return { status: err.status, field: err.field };
  if (err instanceof HTTPException) return { status: err.status as ContentfulStatusCode };
  // A malformed %-escape in a path or query: the request's fault, not a crash.
  if (err instanceof URIError) return { status: 400 };
  // A connection test that failed on add: the input was well formed, the source said no.
  if (err instanceof ConnectionTestError) return { status: 422, field: err.field };
  if (err instanceof ValidationError) return { status: 400, field: err.field };
  if (err instanceof UnknownEntityError) return { status: 400, field: "entities" };
  if (err instanceof NotFoundError) return { status: 404 };
  if (err instanceof SourceBusyError || err instanceof ConflictError) return { status: 409, field: (err as { field?: string }).field };
  return { status: 500 };
}
