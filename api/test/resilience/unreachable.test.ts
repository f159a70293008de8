// A source that cannot be reached fails the run in seconds: the first entity retries, the
// others fail at once with its cause. Real sockets on loopback: a closed port, a server that
// answers 500, an unresolvable name.
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HttpClient, HttpError } from "../../src/connectors/base/http";
import type { ConnectorObserver, WaitReason } from "../../src/connectors/base/types";
import { RestConnector } from "../../src/connectors/rest";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import type { SyncEvent } from "../../src/sync/events";
import { SyncEngine } from "../../src/sync/SyncEngine";

const dir = mkdtempSync(join(tmpdir(), "mako-unreachable-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A port nothing listens on: bound by us, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

async function serverAnswering500(): Promise<{ server: Server; url: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? "");
    res.statusCode = 500;
    res.end("boom");
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

const SETTINGS = { maxRetries: 2, retryBaseDelayMs: 20, retryMinDelayMs: 10, requestsPerSecond: 1000, burst: 1000 };

async function syncRest(baseUrl: string) {
  const connector = new RestConnector({
    name: "api",
    connector: "rest",
    config: { base_url: baseUrl, entities: [{ name: "users" }, { name: "posts" }, { name: "tags" }] },
    settings: SETTINGS,
  });
  const destination = await SqliteDestination.open(join(dir, `${Math.random().toString(36).slice(2)}.db`));
  const events: SyncEvent[] = [];
  try {
    const result = await new SyncEngine().run({ runId: "r", namespace: "api", connector, destination, settings: SETTINGS, onEvent: (e) => events.push(e) });
    return { result, events };
  } finally {
    await destination.close();
  }
}

describe("a source that cannot be reached", () => {
  it("fails the other entities at once with the first one's cause, after its retries only", async () => {
    const port = await closedPort();
    const { result, events } = await syncRest(`http://127.0.0.1:${port}`);
    expect(result.status).toBe("failed");
    const [users, posts, tags] = result.entities;
    expect(users).toMatchObject({ entity: "users", status: "failed" });
    expect(users.error).toMatch(new RegExp(`GET http://127\\.0\\.0\\.1:${port}/users.* failed: connection refused \\(ECONNREFUSED\\) \\(gave up after 2 retries\\)`));
    for (const other of [posts, tags]) {
      expect(other.status).toBe("failed");
      expect(other.error).toBe(`not attempted: the source is unreachable (users: ${users.error!.replace(/^rest: entity "users": /, "")})`);
    }
    // Only the first entity's attempts went out: 1 + 2 retries.
    expect(result.stats).toMatchObject({ requests: 3, retries: 2 });
    // What a progress view says while it waits: a retry after a network error, not the rate limit.
    const waits = events.filter((e): e is Extract<SyncEvent, { type: "waiting" }> => e.type === "waiting");
    expect(waits.map((w) => w.reason)).toEqual(["network_error", "network_error"]);
  });

  it("still tries every entity when the server answers (a 500 may be one endpoint's)", async () => {
    const api = await serverAnswering500();
    try {
      const { result, events } = await syncRest(api.url);
      expect(result.entities.map((e) => e.status)).toEqual(["failed", "failed", "failed"]);
      expect(result.entities.map((e) => e.error)).toEqual(result.entities.map(() => expect.stringMatching(/HTTP 500/)));
      expect(new Set(api.hits.map((h) => h.split("?")[0]))).toEqual(new Set(["/users", "/posts", "/tags"]));
      expect(events.filter((e) => e.type === "waiting").map((e) => (e as { reason: WaitReason }).reason)).toContain("server_error");
    } finally {
      await new Promise((ok) => api.server.close(ok));
    }
  });

  it("marks refused, unresolvable and blocked-port connections unreachable, with their cause", async () => {
    const waits: WaitReason[] = [];
    const observer: ConnectorObserver = { log() {}, count() {}, waiting: (reason) => waits.push(reason) };
    const client = (baseUrl: string) =>
      new HttpClient({ baseUrl }, { settings: { maxRetries: 1, baseDelayMs: 10, minDelayMs: 1 }, observer: () => observer });
    const failure = (baseUrl: string) => client(baseUrl).get("/x").then(() => undefined, (err: unknown) => err as HttpError);

    const refused = await failure(`http://127.0.0.1:${await closedPort()}`);
    expect(refused).toMatchObject({ kind: "network", code: "ECONNREFUSED", unreachable: true, retryable: false });
    const dns = await failure("http://no-such-host.invalid");
    expect(dns).toMatchObject({ kind: "network", unreachable: true });
    expect(["ENOTFOUND", "EAI_AGAIN"]).toContain(dns!.code);
    expect(dns!.message).toMatch(/DNS lookup failed/);
    // Port 9 is on the Fetch standard's block list: no request is sent, nothing to retry.
    const blocked = await failure("http://127.0.0.1:9");
    expect(blocked).toMatchObject({ kind: "network", unreachable: true, retryable: false });
    expect(blocked!.message).toMatch(/GET http:\/\/127\.0\.0\.1:9\/x failed: .*\(bad port\)$/);
    expect(waits).toEqual(["network_error", "network_error"]);
  });
});
