// A real `mako serve` on loopback over a temporary MAKO_HOME, for the webhook tests, and the
// raw inbox rows to assert on.
import { createServer as createHttpServer, type IncomingHttpHeaders } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Mako } from "../../src/Mako";
import { startServer, type StartedServer } from "../../src/server";
import { inboxEventFrom, type InboxRow, type StoredInboxEvent } from "../../src/store/WebhookInbox";

export interface Served {
  mako: Mako;
  server: StartedServer;
  home: string;
  /** Every inbox row of a source, in arrival order (SQLite mode). */
  inbox(source: string): StoredInboxEvent[];
  close(): Promise<void>;
}

/** `applyWebhooks: false`: events are stored, never applied (by this server). */
export async function serveMako(options: { databaseUrl?: string; applyWebhooks?: boolean; log?: (line: string) => void } = {}): Promise<Served> {
  const home = mkdtempSync(join(tmpdir(), "mako-hooks-"));
  const mako = await Mako.open({ home, databaseUrl: options.databaseUrl });
  const server = await startServer({ mako, port: 0, uiDir: false, log: options.log ?? (() => {}), applyWebhooks: options.applyWebhooks });
  return {
    mako,
    server,
    home,
    inbox(source) {
      if (!mako.embedded) throw new Error("inbox(): SQLite mode only");
      const rows = mako.embedded.db.prepare(`SELECT * FROM mako_webhook_inbox WHERE source = ? ORDER BY seq`).all(source) as InboxRow[];
      return rows.map(inboxEventFrom);
    },
    async close() {
      await server.close();
      await mako.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** POSTs a body to a URL; the status and the parsed answer. */
export async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; json: any }> {
  const res = await fetch(url, { method: "POST", headers, body });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/**
 * A loopback server between a vendor fake and Mako: it records every delivery and forwards it
 * to `target` (answering what Mako answers), or, while `swallow` is set, answers 200 itself —
 * the vendor then counts it delivered and the test holds a genuine signed delivery to replay,
 * alter or duplicate.
 */
export async function startTap(target: string) {
  const tap = {
    url: "",
    swallow: false,
    received: [] as { headers: IncomingHttpHeaders; body: string }[],
    close: async () => {},
  };
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const body = Buffer.concat(chunks).toString("utf8");
      tap.received.push({ headers: req.headers, body });
      if (tap.swallow) return res.writeHead(200, { "content-type": "application/json" }).end("{}");
      try {
        const answer = await fetch(target, { method: "POST", body, headers: replayHeaders(req.headers, SIGNED_HEADERS) });
        res.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text());
      } catch (err) {
        res.writeHead(502).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  tap.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tap`;
  tap.close = () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())));
  return tap;
}

/** The headers a vendor's delivery is verified with. */
export const SIGNED_HEADERS = ["content-type", "stripe-signature", "close-sig-hash", "close-sig-timestamp"];

/** Headers of a captured request as fetch takes them (one value each). */
export function replayHeaders(headers: IncomingHttpHeaders, keep: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of keep) if (typeof headers[name] === "string") out[name] = headers[name] as string;
  return out;
}

/** Polls until `check` returns true (or throws after `ms`). */
export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Small, fast retries for the fakes' deliveries. */
export const QUICK_RETRY = { firstRetryMs: 50, factor: 2, maxRetryMs: 400, giveUpAfterMs: 20_000, timeoutMs: 10_000 };
