import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import type { Mako } from "../Mako";
import { isLoopback, resolveApiToken } from "./apiToken";
import { createServer } from "./createServer";

export interface StartServerOptions {
  mako: Mako;
  /** 3000 by default; 0 picks a free port. */
  port?: number;
  /** 127.0.0.1 by default. Any other address requires the API token. */
  host?: string;
  /** Host names served besides loopback names and the bound address (a reverse proxy's). */
  allowedHosts?: string[];
  /** Largest request body, bytes (1 MB by default). */
  maxBodyBytes?: number;
  /** Overrides MAKO_API_TOKEN and the stored token; used only when bound beyond loopback. */
  token?: string;
  uiDir?: string | false;
  /** Where notices go (the generated token, once); console.log by default. */
  log?: (line: string) => void;
  /**
   * Apply stored webhook events (default true): in this process in SQLite mode, through the
   * workers' apply jobs in PostgreSQL mode.
   */
  applyWebhooks?: boolean;
}

export interface StartedServer {
  url: string;
  port: number;
  host: string;
  /** The token clients must send, when one is required. */
  token?: string;
  close(): Promise<void>;
}

/** Serves the API and the UI; resolves once listening. */
export async function startServer(options: StartServerOptions): Promise<StartedServer> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? ((line: string) => console.log(line));
  let token: string | undefined;
  if (!isLoopback(host)) {
    if (options.token) token = options.token;
    else {
      const resolved = resolveApiToken(options.mako.home);
      token = resolved.token;
      if (resolved.created) log(`API token (shown once, stored in ${options.mako.home}/api-token): ${token}`);
    }
  }
  const applying = options.applyWebhooks === false ? undefined : await startApplying(options.mako, log);
  const server = createServer(options.mako, {
    onWebhookStored: applying ? (source, entity) => applying.wake(source, entity) : undefined,
    token,
    uiDir: options.uiDir,
    host,
    allowedHosts: options.allowedHosts,
    maxBodyBytes: options.maxBodyBytes,
  });
  let http: ServerType;
  try {
    http = await new Promise((resolve, reject) => {
      const s = serve({ fetch: server.app.fetch, port: options.port ?? 3000, hostname: host }, () => resolve(s));
      s.once("error", (err: NodeJS.ErrnoException) =>
        reject(err.code === "EADDRINUSE" ? new Error(`port ${options.port ?? 3000} on ${host} is already in use (try --port)`) : err),
      );
    });
  } catch (err) {
    await applying?.stop();
    throw err;
  }
  const port = (http.address() as AddressInfo).port;
  const shownHost = host === "0.0.0.0" || host === "::" ? "localhost" : host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    host,
    token,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close();
        // SSE streams keep connections open: drop them so close() returns promptly.
        (http as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        http.close(() => resolve());
      });
      await applying?.stop();
    },
  };
}

/**
 * Whoever applies stored webhook events: an applier in this process (SQLite mode), or apply jobs
 * for the workers (PostgreSQL mode; without a queue the events wait for a worker to start).
 */
async function startApplying(mako: Mako, log: (line: string) => void): Promise<{ wake(source: string, entity: string): void; stop(): Promise<void> } | undefined> {
  if (mako.embedded) {
    const { WebhookApplier } = await import("../webhooks/applier");
    return new WebhookApplier(mako, { log }).start();
  }
  try {
    const { ApplyWaker } = await import("../cluster/ApplyWaker");
    return await ApplyWaker.open(mako, log);
  } catch (err) {
    log(`webhooks: events are stored but not applied by this server (${(err as Error).message}); mako worker applies them`);
    return undefined;
  }
}
