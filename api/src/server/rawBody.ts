import { readUpTo } from "../connectors/base/http/cappedRead";

/**
 * A request's body as raw bytes, read up to `limit`: null as soon as it is known to be larger
 * (from Content-Length before anything is read, else once the bytes read pass the limit), so a
 * large body is never buffered whole. What is left unread is drained or dropped by the server.
 */
export async function readRawBody(request: Request, limit: number): Promise<Uint8Array | null> {
  if (declaredOver(request, limit)) return null;
  if (!request.body) return new Uint8Array(0);
  return readUpTo(request.body, limit, "release");
}

/** Whether the request's Content-Length already says it is over `limit`. */
export function declaredOver(request: Request, limit: number): boolean {
  const declared = request.headers.get("content-length");
  return declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > limit;
}
