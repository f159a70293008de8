import { ApiError } from "../api/client";

/**
 * Places an API error on the form: `field` is a path in the request body ("name",
 * "config.count"); config fields are keyed without their "config." prefix.
 */
export function fieldErrorOf(err: unknown): { field?: string; message: string } {
  if (err instanceof ApiError && err.field) {
    const field = err.field.startsWith("config.") ? err.field.slice("config.".length).split(".")[0] : err.field;
    return { field, message: err.message };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}
