import Database from "better-sqlite3";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = join(repo, "api/bin/mako.js");
const homes: string[] = [];
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));
const newHome = () => {
  const home = mkdtempSync(join(tmpdir(), "mako-schedcli-"));
  homes.push(home);
  return home;
};

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function mako(home: string, args: string[], env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((ok) => {
    execFile(process.execPath, [bin, ...args], { cwd: repo, env: { ...process.env, MAKO_HOME: home, TZ: "UTC", ...env } }, (err, stdout, stderr) =>
      ok({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function ok(home: string, args: string[]): Promise<string> {
  const r = await mako(home, args);
  expect(r.code, `mako ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

const schedules = (home: string) => {
  const db = new Database(join(home, "mako.db"), { readonly: true });
  try {
    return db.prepare(`SELECT source, cron, timezone, misfire, paused, next_fire_at, pending, coalesced FROM mako_schedules ORDER BY source`).all();
  } finally {
    db.close();
  }
};

describe("mako schedule", () => {
  it("answers --help for each command", async () => {
    const home = newHome();
    for (const c of [["schedule"], ["schedule", "set"], ["schedule", "list"], ["schedule", "pause"], ["schedule", "resume"], ["schedule", "remove"]]) {
      const r = await mako(home, [...c, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: mako ${c.join(" ")}\\b`));
    }
  }, 60_000);

  it("sets, lists, pauses, resumes and removes a schedule", async () => {
    const home = newHome();
    await ok(home, ["sources", "add", "shop", "--connector", "sample", "--config-json", '{"count":5}']);
    expect(await ok(home, ["schedule", "list"])).toBe('no schedules yet: npx mako schedule set NAME "30 2 * * *"\n');

    const set = (await ok(home, ["schedule", "set", "shop", "30 2 * * *", "--tz", "Europe/Paris"])).split("\n");
    expect(set[0]).toBe('schedule of "shop": 30 2 * * * in Europe/Paris, misfire coalesce');
    // Three slots, read in the schedule's zone: 02:30 at +01:00 or +02:00.
    expect(set[1]).toMatch(/^next runs: (\d{4}-\d\d-\d\d 02:30 GMT\+0[12]:00(, |$)){3}/);
    expect(set[2]).toBe("runs start while mako serve (or npm start) is running");

    // Unquoted fields are joined: the shell gave them one by one.
    expect(await ok(home, ["schedule", "set", "shop", "*/15", "9-17", "*", "*", "MON-FRI", "--misfire", "skip", "--tz", "UTC"])).toMatch(
      /^schedule of "shop": \*\/15 9-17 \* \* MON-FRI in UTC, misfire skip\n/,
    );
    const listed = (await ok(home, ["schedule", "list"])).trimEnd().split("\n");
    expect(listed[0]).toMatch(/^shop\s+\*\/15 9-17 \* \* MON-FRI\s+UTC\s+misfire skip\s+active$/);
    expect(listed[1]).toMatch(/^\s+next: \d{4}-\d\d-\d\d (09|1\d):(00|15|30|45) GMT\+00:00  last fired: never  coalesced: 0  skipped: 0$/);

    expect(await ok(home, ["schedule", "pause", "shop"])).toBe('paused the schedule of "shop": no scheduled run until npx mako schedule resume shop\n');
    expect((await ok(home, ["schedule", "list"])).split("\n")[0]).toMatch(/ paused$/);
    expect(schedules(home)).toMatchObject([{ source: "shop", paused: 1 }]);
    expect(await ok(home, ["schedule", "resume", "shop"])).toMatch(/^resumed the schedule of "shop"; next run: \d{4}-\d\d-\d\d \d\d:\d\d GMT\+00:00\n$/);
    expect(schedules(home)).toMatchObject([{ source: "shop", paused: 0, misfire: "skip", cron: "*/15 9-17 * * MON-FRI" }]);
    expect(await ok(home, ["schedule", "remove", "shop"])).toBe('removed the schedule of "shop"\n');
    expect(schedules(home)).toEqual([]);
  }, 60_000);

  it("gives one line, a non-zero exit and no change for each kind of bad input", async () => {
    const home = newHome();
    await ok(home, ["sources", "add", "shop", "--connector", "sample", "--config-json", '{"count":5}']);
    await ok(home, ["schedule", "set", "shop", "0 * * * *", "--tz", "UTC"]);
    await ok(home, ["sources", "add", "idle", "--connector", "sample", "--config-json", '{"count":5}']);
    const before = schedules(home);
    const cases: [string[], RegExp][] = [
      [["schedule", "set", "shop", "61 * * * *"], /^error: invalid cron "61 \* \* \* \*": minute "61": out of range \(0-59\)$/],
      [["schedule", "set", "shop", "0 25 * * *"], /^error: invalid cron "0 25 \* \* \*": hour "25": out of range \(0-23\)$/],
      [["schedule", "set", "shop", "0 0 32 * *"], /^error: invalid cron "0 0 32 \* \*": day of month "32": out of range \(1-31\)$/],
      [["schedule", "set", "shop", "0 0 * 13 *"], /^error: invalid cron "0 0 \* 13 \*": month "13": out of range \(1-12 or JAN-DEC\)$/],
      [["schedule", "set", "shop", "0 0 * * FUNDAY"], /^error: invalid cron "0 0 \* \* FUNDAY": day of week "FUNDAY": /],
      [["schedule", "set", "shop", "0 0 * *"], /^error: invalid cron "0 0 \* \*": it has 4 fields; give five: minute hour day-of-month month day-of-week/],
      [["schedule", "set", "nope", "0 * * * *"], /^error: no source named "nope" \(see: npx mako sources list\)$/],
      [["schedule", "set", "shop", "0 * * * *", "--tz", "Mars/Olympus"], /^error: invalid time zone "Mars\/Olympus": not a time zone this machine knows/],
      [["schedule", "set", "shop", "0 * * * *", "--misfire", "later"], /^error: invalid misfire "later": use coalesce or skip$/],
      [["schedule", "pause", "idle"], /^error: source "idle" has no schedule \(set one: npx mako schedule set idle CRON\)$/],
      [["schedule", "resume", "nope"], /^error: source "nope" has no schedule/],
      [["schedule", "remove", "idle"], /^error: source "idle" has no schedule/],
    ];
    const results = await Promise.all(cases.map(([args]) => mako(home, args)));
    results.forEach((r, i) => {
      expect(r.code, `${cases[i][0].join(" ")}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
      expect(r.stderr.trimEnd()).toMatch(cases[i][1]);
      expect(r.stdout).toBe("");
    });
    expect(schedules(home)).toEqual(before);
  }, 60_000);

  it("fires in a real mako serve (SQLite): the run is the schedule's in mako runs and mako schedule list", async () => {
    const home = newHome();
    await ok(home, ["sources", "add", "shop", "--connector", "sample", "--config-json", '{"count":5}', "--entity", "users"]);
    await ok(home, ["schedule", "set", "shop", "0 3 * * *", "--tz", "UTC"]);
    const child = spawn(process.execPath, [bin, "serve", "--no-ui", "--port", "0"], {
      cwd: repo,
      env: { ...process.env, MAKO_HOME: home, MAKO_SCHEDULER_TICK_MS: "100" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    try {
      await until(() => /Mako is serving/.test(out), () => `mako serve did not start: ${out}`);
      // The scheduler was down for a day: the slot is due.
      const db = new Database(join(home, "mako.db"), { timeout: 5000 });
      db.prepare(`UPDATE mako_schedules SET next_fire_at = ?`).run(new Date(Date.now() - 86_400_000).toISOString());
      db.close();
      await until(() => /schedule of "shop": run run_\w+ succeeded/.test(out), () => `no scheduled run: ${out}`);
    } finally {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    }
    const runs = (await ok(home, ["runs", "shop"])).split("\n");
    expect(runs[0]).toMatch(/^run_\w+\s+shop\s+succeeded .* 5 records  by schedule$/);
    const runId = runs[0].split(" ")[0];
    const listed = (await ok(home, ["schedule", "list"])).split("\n");
    expect(listed[1]).toMatch(new RegExp(`next: \\d{4}-\\d\\d-\\d\\d 03:00 GMT\\+00:00  last fired: .* \\(${runId}\\)  coalesced: 0  skipped: 0$`));
  }, 90_000);
});

async function until(done: () => boolean, why: () => string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}
