import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface Captured {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A loopback HTTP server that records every request and answers `reply` (JSON). */
export async function captureServer(reply: (req: Captured) => { status?: number; body: unknown; headers?: Record<string, string> } = () => ({ body: { data: [], has_more: false } })) {
  const requests: Captured[] = [];
  const server = createServer((req, res) => {
    const seen = { method: req.method!, url: req.url!, headers: req.headers };
    requests.push(seen);
    req.resume();
    const answer = reply(seen);
    res.writeHead(answer.status ?? 200, { "content-type": "application/json", ...answer.headers }).end(JSON.stringify(answer.body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}
