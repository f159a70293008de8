import type { DataRecord } from "../base/types";
import { readPath } from "../base/declarative/jsonPath";
import type { PaginationConfig } from "./config";

/** Where the next page is; plain JSON for the FetchState. */
export type GraphqlPosition = { after?: string; offset?: number };

export function pageVariables(p: PaginationConfig, pos: GraphqlPosition, pageSize: number): Record<string, unknown> {
  if (p.type === "relay") return { [p.first_var]: pageSize, ...(pos.after !== undefined ? { [p.after_var]: pos.after } : {}) };
  if (p.type === "offset") return { [p.offset_var]: pos.offset ?? 0, [p.limit_var]: pageSize };
  return {};
}

export function pageSizeOf(p: PaginationConfig, batchSize: number): number {
  return ("page_size" in p && p.page_size) || Math.max(1, batchSize);
}

interface GraphqlError {
  message?: unknown;
  path?: unknown;
  extensions?: { code?: unknown };
}

/** Codes servers use for "slow down" (Shopify, Apollo, GitHub): worth retrying. */
const throttled = new Set(["THROTTLED", "RATE_LIMITED", "RATE_LIMIT_EXCEEDED", "TOO_MANY_REQUESTS"]);

/** A GraphQL `errors` array as one Error naming the entity and the first error. */
export function graphqlErrorOf(entity: string, errors: unknown): Error | undefined {
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  const first = errors[0] as GraphqlError;
  const code = typeof first?.extensions?.code === "string" ? first.extensions.code : undefined;
  const where = Array.isArray(first?.path) ? ` (at ${first.path.join(".")})` : "";
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? "s" : ""})` : "";
  const message = `graphql: entity "${entity}": ${String(first?.message ?? JSON.stringify(first))}${where}${more}`;
  return Object.assign(new Error(message), { retryable: code !== undefined && throttled.has(code), graphqlCode: code });
}

/** The records of one response and the next position (null: last page), or a problem. */
export function readGraphqlPage(
  data: unknown,
  path: string | undefined,
  p: PaginationConfig,
  pos: GraphqlPosition,
): { records: DataRecord[]; next: GraphqlPosition | null } | { problem: string } {
  const at = path ?? soleField(data);
  if (at === undefined) return { problem: "data has several fields: set path" };
  const found = readPath(data, at);
  if (found === undefined || found === null) return { records: [], next: null };

  if (p.type === "relay") {
    const conn = found as { edges?: { node?: unknown }[]; nodes?: unknown[]; pageInfo?: { hasNextPage?: unknown; endCursor?: unknown } };
    const list = Array.isArray(conn.edges) ? conn.edges.map((e) => e?.node) : conn.nodes;
    if (!Array.isArray(list)) return { problem: `"${at}" is not a connection (no edges or nodes)` };
    if (!conn.pageInfo) return { problem: `"${at}" has no pageInfo: select pageInfo { hasNextPage endCursor }` };
    const checked = asRecords(list, at);
    if ("problem" in checked) return checked;
    const { hasNextPage, endCursor } = conn.pageInfo;
    const more = hasNextPage === true && typeof endCursor === "string" && endCursor !== pos.after && list.length > 0;
    return { records: checked.records, next: more ? { after: endCursor as string } : null };
  }
  const list = Array.isArray(found) ? found : [found];
  const checked = asRecords(list, at);
  if ("problem" in checked) return checked;
  if (p.type === "offset" && list.length > 0) return { records: checked.records, next: { offset: (pos.offset ?? 0) + list.length } };
  return { records: checked.records, next: null };
}

function soleField(data: unknown): string | undefined {
  if (data === null || typeof data !== "object") return undefined;
  const keys = Object.keys(data);
  return keys.length === 1 ? keys[0] : undefined;
}

function asRecords(list: unknown[], at: string): { records: DataRecord[] } | { problem: string } {
  for (const item of list) {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return { problem: `items at "${at}" are not objects` };
  }
  return { records: list as DataRecord[] };
}
