import { readPath } from "../base/declarative/jsonPath";
import type { PaginatorConfig } from "./config";

/**
 * Where the next page is: a page number, an offset, a cursor, or a full URL given by the
 * API. Plain JSON, because it is stored in the FetchState to resume from.
 */
export type PagePosition =
  | { kind: "first" }
  | { kind: "page"; page: number; seen: number }
  | { kind: "offset"; offset: number }
  | { kind: "cursor"; cursor: string }
  | { kind: "url"; url: string };

/** What one response tells the paginator. */
export interface PageResponse {
  body: unknown;
  headers: Headers;
  /** The URL that was requested, to resolve relative next links. */
  url: string;
  records: unknown[];
}

export function firstPosition(p: PaginatorConfig): PagePosition {
  if (p.type === "page_number") return { kind: "page", page: p.start, seen: 0 };
  if (p.type === "offset") return { kind: "offset", offset: 0 };
  return { kind: "first" };
}

export function pageSizeOf(p: PaginatorConfig, batchSize: number): number {
  return ("page_size" in p && p.page_size) || Math.max(1, batchSize);
}

/** The query parameters that select this page (none when the position is a full URL). */
export function pageQuery(p: PaginatorConfig, pos: PagePosition, pageSize: number): Record<string, string | number> {
  const query: Record<string, string | number> = {};
  if (pos.kind === "url") return query;
  if ("size_param" in p && p.size_param) query[p.size_param] = pageSize;
  if (p.type === "page_number" && pos.kind === "page") query[p.param] = pos.page;
  if (p.type === "offset" && pos.kind === "offset") {
    query[p.offset_param] = pos.offset;
    query[p.limit_param] = pageSize;
  }
  if (p.type === "cursor" && pos.kind === "cursor") query[p.cursor_param] = pos.cursor;
  return query;
}

/**
 * The next page's position, or null when this page was the last one. `storable` turns a next
 * URL into the form kept in the checkpoint (without credentials).
 */
export function nextPosition(p: PaginatorConfig, pos: PagePosition, res: PageResponse, storable: (url: string) => string = (u) => u): PagePosition | null {
  if (p.type === "none") return null;
  if (res.records.length === 0) return null;
  if (p.has_more_path !== undefined && isFalse(readPath(res.body, p.has_more_path))) return null;

  switch (p.type) {
    case "page_number": {
      const current = pos.kind === "page" ? pos : { page: p.start, seen: 0 };
      const seen = current.seen + res.records.length;
      if (reached(readPath(res.body, p.total_path), seen)) return null;
      if (reached(headerValue(res.headers, p.total_header), seen)) return null;
      if (reached(readPath(res.body, p.total_pages_path), current.page - p.start + 1)) return null;
      return { kind: "page", page: current.page + 1, seen };
    }
    case "offset": {
      // Advance by what came back, not by the limit asked for: servers cap page sizes.
      const offset = (pos.kind === "offset" ? pos.offset : 0) + res.records.length;
      if (reached(readPath(res.body, p.total_path), offset)) return null;
      if (reached(headerValue(res.headers, p.total_header), offset)) return null;
      return { kind: "offset", offset };
    }
    case "cursor": {
      const cursor = readPath(res.body, p.cursor_path);
      if (cursor === undefined || cursor === null || cursor === "") return null;
      if (pos.kind === "cursor" && String(cursor) === pos.cursor) return null; // a stuck cursor would loop forever
      return { kind: "cursor", cursor: String(cursor) };
    }
    case "next_url":
      return urlPosition(readPath(res.body, p.next_url_path), res.url, pos, storable);
    case "link_header":
      return urlPosition(nextLink(res.headers.get("link")), res.url, pos, storable);
  }
}

function urlPosition(next: unknown, base: string, pos: PagePosition, storable: (url: string) => string): PagePosition | null {
  if (typeof next !== "string" || next === "") return null;
  const url = storable(new URL(next, base).toString());
  if (pos.kind === "url" && pos.url === url) return null;
  return { kind: "url", url };
}

/** A header's value (a total, as text), when the paginator names one. */
function headerValue(headers: Headers, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const value = headers.get(name)?.trim();
  return value === "" || value === null ? undefined : value;
}

function isFalse(value: unknown): boolean {
  return value === false || value === "false" || value === 0;
}

/** True when `total` is a number and `count` is at or past it. */
function reached(total: unknown, count: number): boolean {
  const n = typeof total === "string" ? Number(total) : total;
  return typeof n === "number" && Number.isFinite(n) && count >= n;
}

/** The `rel="next"` target of an RFC 8288 Link header. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const rel = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(match[2])?.[1];
    if (rel?.toLowerCase().split(/\s+/).includes("next")) return match[1];
  }
  return undefined;
}
