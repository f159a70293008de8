import { createServer, type Server } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import { SyncEngine } from "../../src/sync/SyncEngine";
import { MyServiceConnector } from "../fixtures/my-service/connector";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");
const guidePath = resolve(repo, "docs/building-connectors.md");
const fixturePath = resolve(here, "../fixtures/my-service/connector.ts");

const USERS = 23;
const PAGE = 5;

/** A tiny "My Service": GET /ping, GET /users?page=N (1-based) → { data, hasMore }. */
function startService(): Promise<{ server: Server; baseUrl: string; pagesServed: number[] }> {
  const pagesServed: number[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    res.setHeader("content-type", "application/json");
    if (url.pathname === "/ping") return res.end(JSON.stringify({ ok: true }));
    if (url.pathname === "/users") {
      const page = Number(url.searchParams.get("page") ?? "1");
      pagesServed.push(page);
      const data = [];
      for (let id = (page - 1) * PAGE + 1; id <= Math.min(USERS, page * PAGE); id++) {
        data.push({ id, name: `user ${id}`, profile: { level: id % 3 }, tags: [`t${id % 2}`] });
      }
      return res.end(JSON.stringify({ data, hasMore: page * PAGE < USERS }));
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ error: "not found" }));
  });
  return new Promise((ok) =>
    server.listen(0, "127.0.0.1", () => ok({ server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, pagesServed })),
  );
}

/** The guide leaves `client` to the author: this one talks to the local service. */
function connectorFor(baseUrl: string) {
  class LocalMyService extends MyServiceConnector {
    constructor() {
      super({ name: "guide", connector: "my-service", config: {}, settings: {} });
      this.client = {
        ping: async () => {
          const r = await fetch(`${baseUrl}/ping`);
          if (!r.ok) throw new Error(`ping failed: HTTP ${r.status}`);
        },
        getUsers: async ({ page }: { page: number }) => {
          const r = await fetch(`${baseUrl}/users?page=${page}`);
          return (await r.json()) as { data: Record<string, unknown>[]; hasMore: boolean };
        },
      };
    }
  }
  return new LocalMyService();
}

describe("the example connector of docs/building-connectors.md", () => {
  let service: Awaited<ReturnType<typeof startService>>;
  let dir: string;

  beforeAll(async () => {
    service = await startService();
    dir = mkdtempSync(join(tmpdir(), "mako-guide-"));
  });
  afterAll(() => {
    service?.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is the fixture, verbatim", () => {
    if (!existsSync(guidePath)) throw new Error(`the connector guide is missing at ${guidePath}`);
    const guide = readFileSync(guidePath, "utf8");
    const block = /```typescript\n([\s\S]*?)```/.exec(guide);
    expect(block, "the guide has no ```typescript block").not.toBeNull();
    expect(readFileSync(fixturePath, "utf8")).toBe(block![1]);
  });

  it("tests its connection against the service", async () => {
    const c = connectorFor(service.baseUrl);
    expect(await c.testConnection()).toEqual({ success: true, message: "Connected successfully" });
    const down = connectorFor("http://127.0.0.1:1");
    const result = await down.testConnection();
    expect(result.success).toBe(false);
    expect(result.message).toMatch(/fetch failed|ECONNREFUSED/);
  });

  it("syncs every user through the engine and resumes after a crash", async () => {
    const destination = SqliteDestination.open(join(dir, "guide.db"));
    const engine = new SyncEngine();
    const job = { namespace: "guide", destination, settings: { maxRetries: 0 }, entities: ["users"] };

    // First run dies right after its second chunk committed (pages 1 and 2).
    const crashed = await engine.run({
      ...job,
      runId: "run_1",
      connector: connectorFor(service.baseUrl),
      hooks: {
        afterCommit: (_entity, seq) => {
          if (seq === 2) throw new Error("simulated crash");
        },
      },
    });
    expect(crashed.status).toBe("failed");
    expect(destination.db.prepare(`SELECT count(*) AS n FROM guide__users`).get()).toEqual({ n: 2 * PAGE });

    service.pagesServed.length = 0;
    const resumed = await engine.run({ ...job, runId: "run_2", connector: connectorFor(service.baseUrl) });
    expect(resumed.status).toBe("succeeded");
    expect(resumed.entities[0].resumed).toBe(true);
    // Resumed at page 3: the committed pages are not fetched again.
    expect(service.pagesServed).toEqual([3, 4, 5]);

    const rows = destination.db.prepare(`SELECT id, name, profile, tags FROM guide__users ORDER BY id`).all() as {
      id: number;
      name: string;
      profile: string;
      tags: string;
    }[];
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: USERS }, (_, i) => i + 1));
    expect(JSON.parse(rows[6].profile)).toEqual({ level: 7 % 3 });
    expect(JSON.parse(rows[6].tags)).toEqual(["t1"]);
    await destination.close();
  });
});
