import type { MiddlewareHandler } from "hono";
import { hostname, networkInterfaces } from "node:os";
import { isLoopback } from "./apiToken";

/** Methods that change nothing: a page on another origin may send them but never read the answer. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The host names a server bound to `bindHost` answers to: loopback names, the bound address
 * (every interface address when bound to all of them) and `extra` (a reverse proxy's name).
 */
export function servedHosts(bindHost: string, extra: string[] = []): Set<string> {
  const names = new Set(["localhost", "127.0.0.1", "::1", normalHost(bindHost)]);
  if (bindHost === "0.0.0.0" || bindHost === "::") {
    names.add(hostname().toLowerCase());
    for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) names.add(normalHost(i.address));
  }
  for (const name of extra) names.add(normalHost(name));
  names.delete("0.0.0.0");
  names.delete("::");
  return names;
}

/** `Example.COM.` → `example.com`, `[::1]` → `::1`: the form Host headers are compared in. */
function normalHost(name: string): string {
  return name.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
}

/** The host name of a `Host` header (`name:port`, `[v6]:port`), or undefined when malformed. */
export function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(header.trim());
  return match ? normalHost(match[1]) : undefined;
}

/**
 * Refuses what a web page in the same browser could make the user's browser send:
 * - a `Host` the server does not serve (DNS rebinding: the attacker's name pointing at 127.0.0.1) → 403;
 * - a state-changing request from another origin (`Origin`, `Sec-Fetch-Site`) → 403;
 * - a state-changing request with a body that is not JSON (the "simple" requests a form or
 *   `fetch(…, {mode: "no-cors"})` sends without a preflight) → 415.
 */
export function requestGuard(allowedHosts: Set<string>): MiddlewareHandler {
  return async (c, next) => {
    const hostHeader = c.req.header("host");
    const host = hostOf(hostHeader);
    if (!host || !(allowedHosts.has(host) || isLoopback(host))) {
      return c.json({ error: `host "${hostHeader ?? ""}" is not served here (start mako with --allowed-host ${host ?? "NAME"} to serve it)` }, 403);
    }
    if (SAFE_METHODS.has(c.req.method)) return next();
    // A vendor's webhook comes from no page of ours and in the vendor's content type; its
    // signature is what authenticates it (a forged one is refused, nothing stored).
    if (c.req.path.startsWith("/hooks/")) return next();

    const origin = c.req.header("origin");
    if (origin !== undefined && !sameOrigin(origin, hostHeader!)) {
      return c.json({ error: `requests from ${origin} may not change anything here` }, 403);
    }
    const site = c.req.header("sec-fetch-site");
    if (site !== undefined && site !== "same-origin" && site !== "none") {
      return c.json({ error: `a ${site} request may not change anything here` }, 403);
    }
    const type = c.req.header("content-type");
    const hasBody = Number(c.req.header("content-length") ?? 0) > 0 || c.req.header("transfer-encoding") !== undefined;
    if ((type !== undefined || hasBody) && !/^application\/json\s*(;|$)/i.test(type ?? "")) {
      return c.json({ error: `send the request body as application/json (got ${type ? `"${type}"` : "no content type"})` }, 415);
    }
    return next();
  };
}

/** True when an `Origin` header names the very host the request was addressed to. */
function sameOrigin(origin: string, hostHeader: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === "http:" || url.protocol === "https:") && url.host.toLowerCase() === hostHeader.trim().toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, file: pages) and anything unparsable
  }
}
