import Database from "better-sqlite3";
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { startStripeFake } from "../../../bench/fakes/stripe";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = join(repo, "api/bin/mako.js");
const homes: string[] = [];
afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));
const newHome = () => {
  const home = mkdtempSync(join(tmpdir(), "mako-cli-"));
  homes.push(home);
  return home;
};

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function mako(home: string, args: string[], env: Record<string, string> = {}, command = [process.execPath, bin]): Promise<Outcome> {
  return new Promise((ok) => {
    execFile(command[0], [...command.slice(1), ...args], { cwd: repo, env: { ...process.env, MAKO_HOME: home, ...env } }, (err, stdout, stderr) =>
      ok({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** What a failed command must not have changed: sources, runs, checkpoints and tables. */
function snapshot(home: string) {
  const db = new Database(join(home, "mako.db"), { readonly: true });
  try {
    return {
      sources: db.prepare(`SELECT name, connector, config_sealed, settings_json FROM mako_sources ORDER BY name`).all(),
      runs: db.prepare(`SELECT id, status FROM mako_runs ORDER BY id`).all(),
      state: db.prepare(`SELECT * FROM _mako_state ORDER BY namespace, entity`).all(),
      tables: db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all(),
    };
  } finally {
    db.close();
  }
}

function expectOneLineError(r: Outcome, pattern: RegExp) {
  expect(r.code, `exit code; stderr: ${r.stderr}`).not.toBe(0);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(pattern);
}

describe("mako CLI", () => {
  it("answers --help for every command with exit 0, touching nothing", async () => {
    const home = newHome();
    const commands = [
      [],
      ["connectors"],
      ["connectors", "show"],
      ["sources"],
      ["sources", "add"],
      ["sources", "list"],
      ["sources", "update"],
      ["sources", "test"],
      ["sources", "remove"],
      ["sync"],
      ["runs"],
      ["runs", "cancel"],
      ["logs"],
      ["start"],
      ["destinations"],
      ["destinations", "add"],
      ["worker"],
    ];
    const pending = [...commands];
    const worker = async () => {
      for (let c = pending.shift(); c; c = pending.shift()) {
        const r = await mako(home, [...c, "--help"]);
        expect(r.code, `mako ${c.join(" ")} --help: ${r.stderr}`).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^Usage: mako${c.length ? ` ${c.join(" ")}` : ""}\\b`));
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    // `npx mako` from the repository root is the documented entry point.
    const viaNpx = await mako(home, ["sync", "--help"], {}, ["npx", "mako"]);
    expect(viaNpx.code).toBe(0);
    expect(viaNpx.stdout).toContain("--full-refresh");
    expect(readdirSync(home)).toEqual([]);
  }, 120_000);

  it("gives one line on stderr, a non-zero exit and no write for each kind of bad input", async () => {
    const home = newHome();
    expect((await mako(home, ["sources", "add", "shop", "--connector", "sample", "--config-json", '{"count":30,"seed":7}'])).code).toBe(0);
    const before = snapshot(home);
    const cases: [string[], RegExp][] = [
      [["sources", "add", "other", "--connector", "nope", "--config-json", "{}"], /unknown connector "nope"/],
      [["sources", "add", "other", "--connector", "sample", "--config-json", '{"count":"many"}'], /invalid config .*\bcount: /],
      [["sources", "add", "other", "--connector", "sample", "--config-json", '{"cout":5}'], /unknown field "cout" \(fields are: count, seed, page_delay_ms\)/],
      [["connectors", "check", "sample", "--config-json", '{"cout":5}'], /unknown field "cout"/],
      [["sources", "add", "shop", "--connector", "sample", "--config-json", "{}"], /source named "shop" already exists/],
      [["sources", "add", "other", "--connector", "sample", "--config-json", "{count:1}"], /--config-json is not valid JSON/],
      [["sync", "shop", "--entity", "users", "--entity", "orders"], /unknown entity "orders"/],
      [["sync", "nope"], /no source named "nope"/],
      [["sources", "remove", "nope", "--keep-data"], /no source named "nope"/],
      [["sources", "add", "other", "--connector", "sample", "--entity", "orders"], /unknown entity "orders" for connector "sample"; it has: users, products, purchases$/],
      [["sources", "update", "shop", "--entity", "users", "--entity", "orders"], /unknown entity "orders" for connector "sample"; it has: users, products, purchases$/],
      [["sources", "update", "shop", "--entity", "users", "--all-entities"], /--entity and --all-entities/],
      [["sources", "update", "shop"], /nothing to change/],
      [["sources", "update", "nope", "--all-entities"], /no source named "nope"/],
    ];
    const results = await Promise.all(cases.map(([args]) => mako(home, args)));
    results.forEach((r, i) => expectOneLineError(r, cases[i][1]));
    expect(snapshot(home)).toEqual(before);
  }, 120_000);

  it("keeps a source's entity selection: a sync without --entity reads it, --all-entities goes back to all", async () => {
    const home = newHome();
    const added = await mako(home, ["sources", "add", "shop", "--connector", "sample", "--config-json", '{"count":20}', "--entity", "users", "--entity", "purchases"]);
    expect(added.code, added.stderr).toBe(0);
    expect((await mako(home, ["sources", "list"])).stdout).toMatch(/^shop\s+sample\s+.*entities: users, purchases$/m);
    const tables = () => snapshot(home).tables.map((t) => (t as { name: string }).name).filter((n) => n.startsWith("shop__"));

    const first = await mako(home, ["sync", "shop"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^users: 20 records/m);
    expect(first.stdout).toMatch(/^purchases: 20 records/m);
    expect(first.stdout).not.toMatch(/^products:/m);
    expect(tables()).toEqual(["shop__purchases", "shop__users"]);

    // An explicit --entity still wins for one run, and leaves the selection as it was.
    expect((await mako(home, ["sync", "shop", "--entity", "products"])).stdout).toMatch(/^products: 5 records/m);
    expect((await mako(home, ["sync", "shop"])).stdout).not.toMatch(/^products:/m);

    const changed = await mako(home, ["sources", "update", "shop", "--entity", "products"]);
    expect(changed.stdout.trim()).toBe('updated source "shop": syncs products');
    const onlyProducts = await mako(home, ["sync", "shop"]);
    expect(onlyProducts.stdout.trim().split("\n").map((l) => l.split(":")[0])).toEqual(["products"]);

    const all = await mako(home, ["sources", "update", "shop", "--all-entities"]);
    expect(all.stdout.trim()).toBe('updated source "shop": syncs all entities');
    expect((await mako(home, ["sources", "list"])).stdout).not.toContain("entities:");
    const everything = await mako(home, ["sync", "shop"]);
    expect(everything.stdout.trim().split("\n").map((l) => l.split(":")[0])).toEqual(["users", "products", "purchases"]);
  }, 60_000);

  it("stops on a malformed checkpoint with one line pointing at --full-refresh, which recovers", async () => {
    const home = newHome();
    await mako(home, ["sources", "add", "shop", "--connector", "sample", "--config-json", '{"count":40}']);
    expect((await mako(home, ["sync", "shop"])).code).toBe(0);
    const db = new Database(join(home, "mako.db"));
    db.prepare(`UPDATE _mako_state SET checkpoint = '{"seq": "broken"' WHERE namespace = 'shop' AND entity = 'users'`).run();
    db.close();
    const before = snapshot(home);

    const failed = await mako(home, ["sync", "shop"]);
    expectOneLineError(failed, /malformed checkpoint for shop\.users .*full refresh/);
    expect(snapshot(home)).toEqual(before);

    const recovered = await mako(home, ["sync", "shop", "--full-refresh"]);
    expect(recovered.code, recovered.stderr).toBe(0);
    expect(recovered.stdout).toMatch(/^users: 40 records .*full refresh/m);
    const after = new Database(join(home, "mako.db"), { readonly: true });
    expect(after.prepare(`SELECT count(*) AS n FROM shop__users WHERE _mako_deleted_at IS NULL`).get()).toEqual({ n: 40 });
    after.close();
  });

  it("reports a corrupt database file in one line and leaves it as it was", async () => {
    const home = newHome();
    const garbage = Buffer.from("this is not an SQLite database, just bytes ".repeat(200));
    writeFileSync(join(home, "mako.db"), garbage);
    const r = await mako(home, ["sources", "list"]);
    expectOneLineError(r, /mako\.db.*(not a database|malformed)/);
    expect(readFileSync(join(home, "mako.db")).equals(garbage)).toBe(true);
  });

  it("reports a locked database in one line after the busy timeout", async () => {
    const home = newHome();
    await mako(home, ["sources", "add", "shop", "--connector", "sample", "--config-json", "{}"]);
    const before = snapshot(home);
    const holder = new Database(join(home, "mako.db"));
    holder.exec("BEGIN EXCLUSIVE");
    try {
      const started = Date.now();
      const r = await mako(home, ["sources", "add", "other", "--connector", "sample", "--config-json", "{}"], { MAKO_BUSY_TIMEOUT_MS: "300" });
      expectOneLineError(r, /mako\.db is locked by another process \(waited 0\.3 s\)/);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      holder.exec("ROLLBACK");
      holder.close();
    }
    expect(snapshot(home)).toEqual(before);
  });

  it("never prints a secret and keeps it encrypted in mako.db", async () => {
    const home = newHome();
    const key = "sk_test_PLAINTEXT_7f3a9c21d4e8";
    const added = await mako(home, ["sources", "add", "pay", "--connector", "stripe", "--config-json", JSON.stringify({ api_key: key }), "--no-test"]);
    expect(added.code, added.stderr).toBe(0);
    const listed = await mako(home, ["sources", "list"]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^pay\s+stripe\s+.*"api_key":"\*+"/m);
    for (const out of [added.stdout, added.stderr, listed.stdout, listed.stderr]) expect(out).not.toContain(key);
    for (const file of ["mako.db", "mako.db-wal"]) {
      const path = join(home, file);
      if (existsSync(path)) expect(readFileSync(path).includes(key), `${file} holds the key in clear`).toBe(false);
    }
    // Encrypted, not dropped: the stored config decrypts to the key (the sync path reads it).
    const { Mako } = await import("../../src/Mako");
    const m = await Mako.open({ home });
    expect((await m.sources.unredacted("pay")).config.api_key).toBe(key);
    await m.close();
  });

  it("refuses the runs of a source that never existed, and shows a killed run's unfinished entities as interrupted", async () => {
    const home = newHome();
    expectOneLineError(await mako(home, ["runs", "nope"]), /no source named "nope"/);
    const add = await mako(home, ["sources", "add", "slow", "--connector", "sample", "--config-json", '{"count":5000,"page_delay_ms":20}', "--settings-json", '{"batchSize":100,"maxIterations":1}']);
    expect(add.code, add.stderr).toBe(0);
    const none = await mako(home, ["runs", "slow"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toMatch(/no runs of "slow" yet: npx mako sync slow/);

    const child = spawn(process.execPath, [bin, "sync", "slow"], { cwd: repo, env: { ...process.env, MAKO_HOME: home }, stdio: "ignore" });
    const exited = new Promise((ok) => child.on("exit", ok));
    const db = new Database(join(home, "mako.db"), { readonly: true });
    try {
      // Wait until the run has recorded progress of its first entity, then kill it outright.
      for (let i = 0; i < 500; i++) {
        const row = db.prepare(`SELECT group_concat(result_json) AS e FROM mako_run_entities`).get() as { e: string | null } | undefined;
        if (row?.e && /"records":[1-9]/.test(row.e)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      db.close();
    }
    child.kill("SIGKILL");
    await exited;

    const runs = await mako(home, ["runs", "slow"]);
    expect(runs.code, runs.stderr).toBe(0);
    expect(runs.stdout).toMatch(/^run_\S+\s+slow\s+failed .*error: the process running it \(pid \d+\) stopped/m);
    expect(runs.stdout).toMatch(/^\s+users\s+interrupted [\d,]+ records/m);
    expect(runs.stdout).toMatch(/^\s+purchases\s+interrupted 0 records/m);
    expect(runs.stdout).not.toMatch(/^\s+\w+\s+running\b/m);

    // A removed source keeps its history.
    expect((await mako(home, ["sources", "remove", "slow", "--keep-data"])).code).toBe(0);
    const kept = await mako(home, ["runs", "slow"]);
    expect(kept.code, kept.stderr).toBe(0);
    expect(kept.stdout).toMatch(/^run_\S+\s+slow\s+failed/m);
  });

  it("connectors show prints a connector's config fields and entities", async () => {
    const home = newHome();
    const r = await mako(home, ["connectors", "show", "stripe"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\s+FIELD\s+TYPE\s+REQUIRED\s+SECRET\s+DEFAULT\s+DESCRIPTION$/m);
    expect(r.stdout).toMatch(/^\s+api_key\s+string\s+yes\s+yes\s+Secret key/m);
    expect(r.stdout).toMatch(/^\s+base_url\s+URL\s+no\s+API base URL/m);
    expect(r.stdout).toMatch(/^\s+customers\s+id\s+yes\b/m);
    expect(r.stdout).toMatch(/^\s+balance_transactions\s+id\s+yes, by created\b/m);
    const sample = await mako(home, ["connectors", "show", "sample"]);
    expect(sample.stdout).toMatch(/^\s+count\s+integer\s+no\s+1000\s+Number of users/m);
    const rest = await mako(home, ["connectors", "show", "rest"]);
    expect(rest.stdout).toMatch(/^\s+paginator\.total_header\s+string\s+no\s+\(type page_number, offset\)/m);
    expect(rest.stdout).toMatch(/named by the config's `entities` list/);
    expectOneLineError(await mako(home, ["connectors", "show", "nope"]), /unknown connector "nope"/);
  });

  it("mako sql prints an aligned table, or JSON lines, or CSV", async () => {
    const home = newHome();
    const added = await mako(home, ["sources", "add", "shop", "--connector", "sample", "--config-json", '{"count":3}']);
    expect(added.stdout).toMatch(/sync it with: npx mako sync shop$/m);
    expect((await mako(home, ["sync", "shop", "--entity", "users"])).code).toBe(0);
    const query = `SELECT id, 'a, "b"' AS text, NULL AS missing, id * 1000 AS big FROM shop__users ORDER BY id`;
    const table = await mako(home, ["sql", query]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split("\n")).toEqual([
      "id  text    missing   big",
      "--  ------  -------  ----",
      ' 1  a, "b"     NULL  1000',
      ' 2  a, "b"     NULL  2000',
      ' 3  a, "b"     NULL  3000',
      "(3 rows)",
      "",
    ]);
    const json = await mako(home, ["sql", query, "--json"]);
    expect(json.stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual([1, 2, 3].map((id) => ({ id, text: 'a, "b"', missing: null, big: id * 1000 })));
    const csv = await mako(home, ["sql", query, "--csv"]);
    expect(csv.stdout).toBe('id,text,missing,big\n1,"a, ""b""",,1000\n2,"a, ""b""",,2000\n3,"a, ""b""",,3000\n');
    expectOneLineError(await mako(home, ["sql", query, "--csv", "--json"]), /--json or --csv, not both/);
  });

  it("runs cancel stops another process's sync at a chunk boundary, and the next sync resumes", async () => {
    const home = newHome();
    await mako(home, ["sources", "add", "slow", "--connector", "sample", "--config-json", '{"count":20000,"page_delay_ms":20}', "--settings-json", '{"batchSize":100,"maxIterations":1}']);
    expectOneLineError(await mako(home, ["runs", "cancel", "slow"]), /source "slow" is not syncing/);

    const child = spawn(process.execPath, [bin, "sync", "slow"], { cwd: repo, env: { ...process.env, MAKO_HOME: home }, stdio: ["ignore", "pipe", "pipe"] });
    let childErr = "";
    child.stderr.on("data", (d) => (childErr += d));
    const exited = new Promise<number | null>((ok) => child.on("exit", (code) => ok(code)));
    const db = new Database(join(home, "mako.db"), { readonly: true });
    try {
      for (let i = 0; i < 500; i++) {
        const row = db
          .prepare(`SELECT group_concat(e.result_json) AS e FROM mako_run_entities AS e JOIN mako_runs AS r ON r.id = e.run_id WHERE r.status = 'running'`)
          .get() as { e: string | null } | undefined;
        if (row?.e && /"records":[1-9]/.test(row.e)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      db.close();
    }
    // A second sync is refused with the way out.
    expectOneLineError(await mako(home, ["sync", "slow"]), /already syncing \(run run_\S+\); wait for it or cancel it: npx mako runs cancel slow/);

    const started = Date.now();
    const cancel = await mako(home, ["runs", "cancel", "slow"]);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toMatch(/asked run run_\S+ of "slow" to stop at its next chunk boundary/);
    expect(cancel.stdout).toMatch(/run run_\S+ cancelled; the next sync resumes from its checkpoint: npx mako sync slow/);
    expect(await exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(childErr).toMatch(/sync of "slow" cancelled/);

    const runs = await mako(home, ["runs", "slow"]);
    expect(runs.stdout).toMatch(/^run_\S+\s+slow\s+cancelled/m);
    expect(runs.stdout).toMatch(/^\s+users\s+cancelled [\d,]+ records\s+cancelled; the checkpoint is kept/m);
    const resumed = await mako(home, ["sync", "slow", "--entity", "users"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^users: [\d,]+ records .*\[resumed/m);
  }, 120_000);

  it("tests a source's and a destination's connection before storing them; --no-test skips it", async () => {
    const home = newHome();
    await mako(home, ["sources", "add", "shop", "--connector", "sample", "--config-json", "{}"]);
    const before = snapshot(home);
    const fake = await startStripeFake({ seed: 3 });
    try {
      const wrongKey = "sk_test_WRONG_0123456789";
      const config = (api_key: string) => JSON.stringify({ api_key, base_url: fake.url });
      const rejected = await mako(home, ["sources", "add", "pay", "--connector", "stripe", "--config-json", config(wrongKey)]);
      expectOneLineError(rejected, /connection test of source "pay" failed: API key rejected: .*HTTP 401.*; nothing was stored \(--no-test stores it without the test\)$/);
      expect(rejected.stderr).not.toContain(wrongKey);
      const unreachable = await mako(home, ["sources", "add", "pay", "--connector", "stripe", "--config-json", JSON.stringify({ api_key: fake.apiKey, base_url: "http://127.0.0.1:1" })]);
      expectOneLineError(unreachable, /connection test of source "pay" failed: .*127\.0\.0\.1:1/);
      // The README's placeholder destination: no such role on the local PostgreSQL.
      const readmeUrl = "postgres://user@127.0.0.1:5432/analytics";
      const badDestination = await mako(home, ["destinations", "add", "wh", "--type", "postgres", "--url", readmeUrl]);
      expectOneLineError(badDestination, /connection test of destination "wh" failed: .*(role "user"|password|authentication|does not exist).*; nothing was stored/);
      expect(snapshot(home)).toEqual(before);
      expect((await mako(home, ["destinations", "list"])).stdout).toMatch(/^no destinations/);

      const good = await mako(home, ["sources", "add", "pay", "--connector", "stripe", "--config-json", config(fake.apiKey)]);
      expect(good.code, good.stderr).toBe(0);
      expect(good.stdout).toMatch(/added source "pay" \(stripe\), connection tested; sync it with: npx mako sync pay/);
      const untested = await mako(home, ["sources", "add", "later", "--connector", "stripe", "--config-json", config(wrongKey), "--no-test"]);
      expect(untested.code, untested.stderr).toBe(0);
      expect(untested.stdout).not.toMatch(/connection tested/);
      const wh = await mako(home, ["destinations", "add", "wh", "--type", "postgres", "--url", "postgres://postgres@127.0.0.1:5432/test"]);
      expect(wh.code, wh.stderr).toBe(0);
      expect(wh.stdout).toMatch(/added destination "wh" \(postgres\), connection tested/);
      const later = await mako(home, ["destinations", "add", "later", "--type", "postgres", "--url", readmeUrl, "--no-test"]);
      expect(later.code, later.stderr).toBe(0);
      expect((await mako(home, ["sources", "list"])).stdout).toMatch(/^later\s+stripe.*\n(.*\n)*pay\s+stripe/m);
    } finally {
      await fake.close();
    }
  }, 120_000);

  it("lists runs with their status and per-entity counts", async () => {
    const home = newHome();
    await mako(home, ["sources", "add", "shop", "--connector", "sample", "--config-json", '{"count":25}']);
    const synced = await mako(home, ["sync", "shop"]);
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout).toMatch(/^users: 25 records in [\d.]+ s \([\d,]+ records\/s\)/m);
    const runs = await mako(home, ["runs", "shop"]);
    expect(runs.code).toBe(0);
    expect(runs.stdout).toMatch(/^run_\S+\s+shop\s+succeeded .* 55 records/m);
    expect(runs.stdout).toMatch(/^\s+users\s+succeeded 25 records/m);
    expect(runs.stdout).toMatch(/^\s+products\s+succeeded 5 records/m);
    expect(runs.stdout).toMatch(/^\s+purchases\s+succeeded 25 records/m);
  });
});
