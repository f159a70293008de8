import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Mako } from "../Mako";
import { bearerMatches } from "./apiToken";
import { ApiError, errorResponse } from "./httpErrors";
import { requestGuard, servedHosts } from "./requestGuard";
import { LiveRuns } from "./LiveRuns";
import { connectorRoutes } from "./routes/connectors";
import { hookRoutes } from "./routes/hooks";
import { runRoutes } from "./routes/runs";
import { scheduleRoutes } from "./routes/schedules";
import { sourceRoutes } from "./routes/sources";
import { serveUi } from "./staticFiles";
import { uiDistDir } from "./ui";

export interface ServerOptions {
  /** When set, every /api route but connector icons needs `Authorization: Bearer <token>`. */
  token?: string;
  /** The built UI; `app/dist` by default. `false` serves the API only. */
  uiDir?: string | false;
  /** The address the server is bound to (127.0.0.1 by default): a Host it answers to. */
  host?: string;
  /** Further host names it answers to, e.g. a reverse proxy's (`--allowed-host`). */
  allowedHosts?: string[];
  /** Largest request body accepted, in bytes (1 MB by default); larger ones get 413 unread. */
  maxBodyBytes?: number;
  /** Told of each webhook event stored: the applier (SQLite mode) or the apply queue (PostgreSQL mode). */
  onWebhookStored?: (source: string, entity: string) => void;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface MakoServer {
  app: Hono;
  /** Stops following live runs (the facade is the caller's to close). */
  close(): void;
}

/**
 * The HTTP API over the facade, and the web UI's static files. No CORS headers are sent: the
 * UI is served from the same origin, and other origins have no business calling the API
 * (requestGuard refuses them, and Host names the server does not serve).
 */
export function createServer(mako: Mako, options: ServerOptions = {}): MakoServer {
  const app = new Hono();
  const live = new LiveRuns(mako);

  app.onError((err, c) => errorResponse(err, c));
  app.use("*", requestGuard(servedHosts(options.host ?? "127.0.0.1", options.allowedHosts)));

  // Vendors' webhooks: signed, not token-protected, and outside /api so its checks never apply.
  app.route("/hooks", hookRoutes(mako, { onStored: options.onWebhookStored }));

  if (options.token) {
    const token = options.token;
    app.use("/api/*", async (c, next) => {
      // Icons load through <img>, which cannot send a header; they are public assets anyway.
      if (c.req.method === "GET" && /^\/api\/connectors\/[^/]+\/icon\.svg$/.test(c.req.path)) return next();
      if (!bearerMatches(c.req.header("authorization"), token)) {
        c.header("www-authenticate", 'Bearer realm="mako"');
        return c.json({ error: "missing or wrong API token: send Authorization: Bearer <token> (MAKO_API_TOKEN)" }, 401);
      }
      return next();
    });
  }

  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: maxBodyBytes,
      // Connection: close, so the rest of an oversized upload is not read either.
      onError: (c) => c.json({ error: `request body over the limit of ${maxBodyBytes} bytes` }, 413, { connection: "close" }),
    }),
  );

  app.route("/api/connectors", connectorRoutes(mako));
  app.route("/api/sources", sourceRoutes(mako, live));
  app.route("/api/sources", scheduleRoutes(mako));
  app.route("/api/runs", runRoutes(mako, live));
  app.all("/api/*", (c) => {
    throw new ApiError(404, `no API route ${c.req.method} ${c.req.path}`);
  });

  const uiDir = options.uiDir === undefined ? uiDistDir : options.uiDir;
  if (uiDir) app.get("*", (c) => serveUi(c, uiDir));

  return { app, close: () => live.close() };
}
