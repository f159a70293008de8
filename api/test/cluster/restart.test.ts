// PostgreSQL restarted under running workers: the sync completes, exact. The server restarted is
// one this test starts for itself (its own data directory and port, as the postgres OS user),
// never the one the rest of the suite uses.
import { execFileSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestDatabase } from "./harness";

const BIN = "/usr/lib/postgresql/15/bin";
const dir = mkdtempSync(join(tmpdir(), "mako-pg-"));
const data = join(dir, "data");
let port = 0;
let db: TestDatabase;

/** pg_ctl and initdb as the postgres OS user (they refuse to run as root). */
function asPostgres(program: string, args: string[]): string {
  const asRoot = userInfo().uid === 0;
  const [command, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", join(BIN, program), ...args]] : [join(BIN, program), args];
  return execFileSync(command, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
}

const pgCtl = (action: string, ...extra: string[]) =>
  asPostgres("pg_ctl", ["-D", data, "-l", join(dir, "server.log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, ...extra, action]);

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

beforeAll(async () => {
  if (userInfo().uid === 0) chownSync(dir, Number(execFileSync("id", ["-u", "postgres"]).toString()), Number(execFileSync("id", ["-g", "postgres"]).toString()));
  asPostgres("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"]);
  port = await freePort();
  pgCtl("start");
  db = new TestDatabase("restart", `postgres://postgres@127.0.0.1:${port}`);
  await db.create();
  for (const [name, config] of [
    ["big", { count: 12_000, seed: 21, page_delay_ms: 30 }],
    ["ref", { count: 12_000, seed: 21 }],
  ] as const) {
    const added = await db.mako(["sources", "add", name, "--connector", "sample", "--config-json", JSON.stringify(config), "--settings-json", '{"batchSize":100,"maxIterations":2}']);
    expect(added.code, added.stderr).toBe(0);
  }
  expect((await db.mako(["sync", "ref"])).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await db?.drop();
  try {
    pgCtl("stop", "-m", "immediate");
  } catch {
    // already stopped
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("PostgreSQL restarted mid-sync", () => {
  it("two workers and a waiting `mako sync --enqueue --wait` ride out the restart; the result is exact", async () => {
    const workers = [db.worker("w_r1"), db.worker("w_r2")];
    await Promise.all(workers.map((w) => w.started()));
    const waiting = db.mako(["sync", "big", "--enqueue", "--wait"]);
    await db.until("some commits", async () => (await db.committed("big", "users")) >= 1000 || (await db.committed("big", "purchases")) >= 1000);

    pgCtl("restart", "-m", "fast");
    // Stuck rather than slow: say where, with what every process printed, before the test's own timeout.
    const stuck = new Promise<never>((_, fail) => {
      const timer = setTimeout(async () => {
        const entities = await db.query(`SELECT entity, status, worker, job_id FROM mako.run_entities`).catch((err) => err.message);
        fail(new Error(`the waiting sync did not end in 90 s; run entities: ${JSON.stringify(entities)}\n${workers.map((w) => w.output).join("\n")}`));
      }, 90_000);
      void waiting.finally(() => clearTimeout(timer));
    });
    const done = await Promise.race([waiting, stuck]);
    expect(done.code, `${done.stderr}\n${workers.map((w) => w.output).join("\n")}`).toBe(0);
    for (const entity of ["users", "products", "purchases"]) {
      const [got, want] = [await db.fingerprint("big", entity), await db.fingerprint("ref", entity)];
      expect(got, entity).toEqual(want);
    }
    for (const w of workers) w.kill("SIGTERM");
    for (const w of workers) expect(await w.exited, w.output).toBe(0);
  }, 120_000);
});
