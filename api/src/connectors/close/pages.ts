// Shapes of Close's answers, checked before use: a page of another shape is a clear error, not
// a silent empty sync.
import type { DataRecord } from "../base/types";

/** A list endpoint's page (developer.close.com/api/overview/pagination). */
export interface ListPage {
  data: DataRecord[];
  has_more: boolean;
}

/** An Advanced Filtering answer: `cursor` is null once there is nothing more. */
export interface SearchPage {
  data: DataRecord[];
  cursor: string | null;
}

/** An event log page (developer.close.com/api/resources/events/list). */
export interface EventPage {
  data: { object_id: string; date_created: string; data: DataRecord | null; previous_data: DataRecord | null }[];
  cursor_next: string | null;
}

function objectProblem(body: unknown, expected: string): string | null {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return `expected ${expected}, got ${Array.isArray(body) ? "an array" : typeof body}`;
  return null;
}

/** The 1-based position of the first item without a string `key`, or 0. */
function withoutKey(items: unknown[], key: string): number {
  return items.findIndex((r) => r === null || typeof r !== "object" || typeof (r as Record<string, unknown>)[key] !== "string") + 1;
}

function dataProblem(items: unknown[]): string | null {
  const bad = withoutKey(items, "id");
  return bad ? `item ${bad} of "data" has no string id` : null;
}

export function listPageProblem(body: unknown): string | null {
  const problem = objectProblem(body, "{data, has_more}");
  if (problem) return problem;
  const page = body as Record<string, unknown>;
  if (!Array.isArray(page.data)) return `"data" is not an array`;
  if (typeof page.has_more !== "boolean") return `"has_more" is not a boolean`;
  return dataProblem(page.data);
}

export function searchPageProblem(body: unknown): string | null {
  const problem = objectProblem(body, "{data, cursor}");
  if (problem) return problem;
  const page = body as Record<string, unknown>;
  if (!Array.isArray(page.data)) return `"data" is not an array`;
  if (page.cursor !== null && page.cursor !== undefined && typeof page.cursor !== "string") return `"cursor" is neither a string nor null`;
  return dataProblem(page.data);
}

export function eventPageProblem(body: unknown): string | null {
  const problem = objectProblem(body, "{data, cursor_next}");
  if (problem) return problem;
  const page = body as Record<string, unknown>;
  if (!Array.isArray(page.data)) return `"data" is not an array`;
  if (page.cursor_next !== null && typeof page.cursor_next !== "string") return `"cursor_next" is neither a string nor null`;
  const bad = withoutKey(page.data, "object_id");
  return bad ? `event ${bad} has no object_id` : null;
}
