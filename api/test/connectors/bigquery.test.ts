import { createPrivateKey, generateKeyPairSync, sign as cryptoSign } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { bigQueryError, startBigQueryFake, type BigQueryFake, type FieldSchema, type ServiceAccountKeyFile } from "../../../bench/fakes/bigquery";
import { BigQueryConnector, bigqueryConfigSchema, type BigQueryConfigInput } from "../../src/connectors/bigquery";
import { ServiceAccountAuth } from "../../src/connectors/bigquery/auth";
import { timestampFromMicros } from "../../src/connectors/bigquery/decode";
import { sinceParameter } from "../../src/connectors/bigquery/sql";
import { validateConfig } from "../../src/connectors/base/validateConfig";
import type { DataRecord } from "../../src/connectors/base/types";
import { checkConnector } from "../../src/conformance";
import type { Destination } from "../../src/destinations/Destination";
import { openDestination } from "../../src/destinations/factory";
import { redactConfig, secretPaths } from "../../src/store/redact";
import { SyncEngine } from "../../src/sync/SyncEngine";
import { failures, SyncRunner } from "./syncRunner";

const SETTINGS = { batchSize: 4, maxIterations: 2, maxRetries: 2, requestsPerSecond: 1000, burst: 1000 };

let fake: BigQueryFake | undefined;
let runner: SyncRunner | undefined;
afterEach(async () => {
  await runner?.close();
  await fake?.close();
  runner = fake = undefined;
});

const ORDER_FIELDS: FieldSchema[] = [
  { name: "id", type: "INTEGER", mode: "REQUIRED" },
  { name: "customer", type: "STRING" },
  { name: "total", type: "NUMERIC" },
  { name: "version", type: "INTEGER" },
  { name: "updated_at", type: "TIMESTAMP" },
];

const at = (second: number) => new Date(Date.UTC(2024, 4, 1, 12, 0, 0) + second * 1000).toISOString().replace("Z", "123Z");

function order(id: number, second = id) {
  return { id, customer: `c${id % 5}`, total: `${id * 10}.25`, version: 1, updated_at: at(second) };
}

/** A fake with `shop.orders` (n rows) and `crm.customers`, and a key able to run jobs in its project. */
async function startFake(n = 10, options: Parameters<typeof startBigQueryFake>[0] = {}) {
  const f = await startBigQueryFake(options);
  f.createTable("shop.orders", ORDER_FIELDS, Array.from({ length: n }, (_, i) => order(i + 1)));
  f.createTable("crm.customers", [
    { name: "id", type: "STRING" },
    { name: "email", type: "STRING" },
    { name: "plan", type: "STRING" },
  ], Array.from({ length: 6 }, (_, i) => ({ id: `cus_${i}`, email: `u${i}@example.com`, plan: i % 2 ? "pro" : "free" })));
  return { fake: f, key: f.createKey() };
}

function configOf(f: BigQueryFake, key: ServiceAccountKeyFile, entities: BigQueryConfigInput["entities"], over: Partial<BigQueryConfigInput> = {}): BigQueryConfigInput {
  return { service_account_json: JSON.stringify(key), base_url: f.apiUrl, entities, ...over };
}

const ENTITIES: BigQueryConfigInput["entities"] = [
  { name: "orders", table: "shop.orders", cursor_field: "updated_at" },
  { name: "big_orders", query: "SELECT id, total, version, updated_at FROM shop.orders WHERE version >= 1", cursor_field: "version" },
  { name: "customers", table: "crm.customers" },
  { name: "pro_customers", query: "SELECT * FROM `crm.customers` WHERE plan = 'pro'" },
];

const live = async (r: SyncRunner, entity: string) => new Map([...(await r.live(entity)).entries()]);

describe("bigquery connector against the local BigQuery fake", () => {
  it("passes the conformance kit: crash before and after every chunk, idempotency, incremental", async () => {
    const started = await startFake(11, { pendingPolls: 2 });
    fake = started.fake;
    const f = fake;
    let n = 11;
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const forged = { ...started.key, private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
    const report = await checkConnector({
      connector: BigQueryConnector,
      config: configOf(f, started.key, ENTITIES),
      badConfig: configOf(f, forged, ENTITIES),
      settings: SETTINGS,
      changeSource: async () => {
        f.insert("shop.orders", [order(++n, 100), order(++n, 101)]);
        f.update("shop.orders", (r) => r.id === 3, { total: "999.99", version: 2, updated_at: at(102) });
        f.insert("crm.customers", [{ id: "cus_new", email: "new@example.com", plan: "pro" }]);
      },
    });
    expect(report.firstFailure).toBeUndefined();
    expect(report.ok).toBe(true);
  });

  it("reads tables with tabledata.list first, then only rows at or past the mark through @since; equals the fake after inserts and updates", async () => {
    ({ fake } = await startFake(9));
    const { key } = { key: fake.createKey() };
    runner = new SyncRunner(BigQueryConnector, configOf(fake, key, ENTITIES.slice(0, 2)), SETTINGS);
    const first = await runner.sync();
    expect(failures(first.result)).toBe("");
    expect(fake.counters.tabledataPages).toBeGreaterThanOrEqual(3); // 9 rows, 4 a page
    const jobsAfterFirst = fake.counters.jobs;
    expect(jobsAfterFirst).toBe(1); // only the query entity ran a job

    fake.insert("shop.orders", [order(10, 50), order(11, 51)]);
    fake.update("shop.orders", (r) => r.id === 2, { customer: "renamed", version: 3, updated_at: at(52) });
    const second = await runner.sync();
    expect(failures(second.result)).toBe("");
    const orders = await live(runner, "orders");
    const truth = fake.rows("shop.orders");
    expect([...orders.keys()].sort()).toEqual(truth.map((r) => String(r.id)).sort());
    for (const row of truth) {
      const got = orders.get(String(row.id))!;
      expect(got.customer, `order ${row.id}`).toBe(row.customer);
      expect(got.updated_at).toBe(row.updated_at);
    }
    expect((await live(runner, "big_orders")).get("2")?.version).toBe(3);
    // The second sync read the 3 changed rows (and the row sharing the mark), not the table.
    const byEntity = Object.fromEntries(second.result.entities.map((e) => [e.entity, e.records]));
    expect(byEntity.orders).toBe(4);
    // INT64 mark 1 → version >= 1 reads every row again; the type of @since must be INT64 for that to run at all.
    expect(byEntity.big_orders).toBe(11);
    expect(fake.counters.jobs).toBe(jobsAfterFirst + 2);
    expect(second.logs.join("\n")).toContain(`incremental: changes since ${at(9)}`);
  });

  it("binds @since with the type of the mark, never splicing it into the SQL", () => {
    expect(sinceParameter("2024-05-01T12:00:09.123456Z")).toEqual({ parameterType: { type: "TIMESTAMP" }, parameterValue: { value: "2024-05-01 12:00:09.123456+00:00" } });
    expect(sinceParameter("2024-05-01T12:00:09.123Z").parameterType.type).toBe("TIMESTAMP"); // a lookback-shifted mark
    expect(sinceParameter("2024-05-01T12:00:09.5")).toEqual({ parameterType: { type: "DATETIME" }, parameterValue: { value: "2024-05-01 12:00:09.5" } });
    expect(sinceParameter("2024-05-01").parameterType.type).toBe("DATE");
    expect(sinceParameter(42).parameterType.type).toBe("INT64");
    expect(sinceParameter(4.5).parameterType.type).toBe("FLOAT64");
    expect(sinceParameter("9007199254740993").parameterType.type).toBe("INT64");
    expect(sinceParameter("x' OR 1=1 --")).toEqual({ parameterType: { type: "STRING" }, parameterValue: { value: "x' OR 1=1 --" } });
  });

  it("decodes TIMESTAMP microseconds exactly, before 1970 and up to year 9999", () => {
    expect(timestampFromMicros("1714564800123456")).toBe("2024-05-01T12:00:00.123456Z");
    expect(timestampFromMicros("-1")).toBe("1969-12-31T23:59:59.999999Z");
    expect(timestampFromMicros("253402300799999999")).toBe("9999-12-31T23:59:59.999999Z");
    expect(timestampFromMicros("-62135596800000000")).toBe("0001-01-01T00:00:00.000000Z");
  });

  it("signs the JWT Google's service-account flow asks for, and the fake refuses one that differs", async () => {
    ({ fake } = await startFake(1));
    const key = fake.createKey();
    const parsed = validateConfig(bigqueryConfigSchema, configOf(fake, key, ENTITIES));
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    const auth = new ServiceAccountAuth(parsed.config.service_account_json, () => {
      throw new Error("no token request here");
    });
    const now = Math.floor(Date.now() / 1000);
    const [header, claims, signature] = auth.assertion(now).split(".");
    const json = (part: string) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    expect(json(header)).toEqual({ alg: "RS256", typ: "JWT", kid: key.private_key_id });
    expect(json(claims)).toEqual({ iss: key.client_email, scope: "https://www.googleapis.com/auth/bigquery.readonly", aud: fake.tokenUri, iat: now, exp: now + 3600 });
    expect(signature.length).toBeGreaterThan(300); // 2048-bit RSA, base64url

    // The fake checks signature, audience, lifetime and scope, so a connector passing it got them right.
    const signWith = (over: Record<string, unknown>) => {
      const body = Buffer.from(JSON.stringify({ ...json(claims), ...over })).toString("base64url");
      const input = `${header}.${body}`;
      return `${input}.${cryptoSign("sha256", Buffer.from(input), createPrivateKey(key.private_key)).toString("base64url")}`;
    };
    const exchange = async (assertion: string) => {
      const res = await fetch(fake!.tokenUri, { method: "POST", body: new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion }) });
      return { status: res.status, body: await res.json() };
    };
    expect((await exchange(signWith({}))).status).toBe(200);
    expect(await exchange(signWith({ aud: "https://oauth2.googleapis.com/token" }))).toMatchObject({ status: 400, body: { error: "invalid_grant", error_description: expect.stringContaining("Failed audience check") } });
    expect(await exchange(signWith({ exp: now + 7200 }))).toMatchObject({ status: 400, body: { error: "invalid_grant", error_description: expect.stringContaining("short-lived") } });
    expect(await exchange(signWith({ scope: undefined }))).toMatchObject({ status: 400, body: { error: "invalid_scope" } });
    expect(await exchange(`${header}.${claims}.${signature.slice(0, -4)}AAAA`)).toMatchObject({ status: 400, body: { error_description: "Invalid JWT Signature." } });
  });

  it("follows pages cut short by the response size cap, reads an empty result (no rows field) and queries views", async () => {
    ({ fake } = await startFake(9, { maxPageBytes: 200 }));
    fake.createTable("shop.recent_orders", ORDER_FIELDS, fake.rows("shop.orders").slice(0, 3), { type: "VIEW" });
    const key = fake.createKey();
    runner = new SyncRunner(
      BigQueryConnector,
      configOf(fake, key, [
        { name: "orders", table: "shop.orders" },
        { name: "nothing", query: "SELECT * FROM shop.orders WHERE id > 1000" },
        { name: "recent", table: "shop.recent_orders" },
      ]),
      SETTINGS,
    );
    const { result } = await runner.sync();
    expect(failures(result)).toBe("");
    expect(Object.fromEntries(result.entities.map((e) => [e.entity, e.records]))).toEqual({ orders: 9, nothing: 0, recent: 3 });
    // ~80 bytes a row: 2 rows a page although 4 were asked for.
    expect(fake.counters.tabledataPages).toBe(5);
    expect(fake.counters.jobs).toBe(2); // the empty query and the view
  });

  it("waits for a running job and, resumed after a crash, reads the same job instead of running it again", async () => {
    ({ fake } = await startFake(10, { pendingPolls: 4 }));
    const key = fake.createKey();
    const destination = await openDestination({ kind: "sqlite", url: ":memory:" });
    const engine = new SyncEngine();
    const settings = { ...SETTINGS, maxIterations: 1 };
    const config = configOf(fake, key, [{ name: "all_orders", query: "SELECT * FROM shop.orders ORDER BY id" }]);
    const run = (crashAfter?: number) =>
      engine.run({
        runId: `crash_${crashAfter}`,
        namespace: "src",
        connector: new BigQueryConnector({ name: "src", connector: "bigquery", config, settings }),
        destination,
        settings,
        hooks: {
          afterCommit: (_entity, seq) => {
            if (seq === crashAfter) throw Object.assign(new Error("simulated crash"), { retryable: false });
          },
        },
      });
    // Chunk 1 only starts the job (its id is checkpointed); chunk 2 waits for it and reads page 1.
    expect((await run(2)).status).toBe("failed");
    expect(fake.counters.jobs).toBe(1);
    const resumed = await run();
    expect(resumed.status).toBe("succeeded");
    expect(resumed.entities[0].resumed).toBe(true);
    expect(fake.counters.jobs).toBe(1);
    const rows = await destination.readRows({ namespace: "src", entity: "all_orders" }, { limit: 100, offset: 0 });
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    await destination.close();
  });

  it("restarts a query whose results expired mid-pass, says so, and ends equal to the source", async () => {
    ({ fake } = await startFake(20));
    const f = fake;
    const key = f.createKey();
    runner = new SyncRunner(BigQueryConnector, configOf(f, key, [{ name: "all_orders", query: "SELECT * FROM shop.orders" }]), { ...SETTINGS, maxIterations: 1 });
    let expired = false;
    const { result, logs } = await runner.sync({
      onEvent: (e) => {
        if (e.type === "progress" && e.committed >= 8 && !expired) {
          expired = true;
          f.expireJobResults();
          f.insert("shop.orders", [order(21, 60)]);
          f.update("shop.orders", (r) => r.id === 1, { customer: "after expiry" });
          f.remove("shop.orders", (r) => r.id === 20);
        }
      },
    });
    expect(failures(result)).toBe("");
    expect(expired).toBe(true);
    expect(f.counters.jobs).toBe(2);
    expect(logs.filter((l) => l.includes("are gone (BigQuery keeps them about 24 hours): running the query again with the same since (none)"))).toHaveLength(1);
    const rows = await runner.live("all_orders");
    // Whole reads mark unseen rows deleted at the end of the pass: the live rows are the source's.
    expect([...rows.keys()].sort()).toEqual(f.rows("shop.orders").map((r) => String(r.id)).sort());
    expect(rows.get("1")?.customer).toBe("after expiry");
  });

  it("lists the example config of docs/connectors.md and the README, and syncs it verbatim (key and URL aside)", async () => {
    const block = (file: string) => {
      const text = readFileSync(fileURLToPath(new URL(`../../../${file}`, import.meta.url)), "utf8");
      const m = /<!-- example: bigquery -->\s*```yaml\n([\s\S]*?)```/.exec(text);
      if (!m) throw new Error(`${file} has no bigquery example`);
      return m[1];
    };
    const example = block("docs/connectors.md");
    expect(block("README.md")).toBe(example);
    expect(example.trim().split("\n")).toHaveLength(6);
    const config = parseYaml(example) as Record<string, unknown>;
    expect(validateConfig(bigqueryConfigSchema, config).ok).toBe(false); // the key in the docs is a placeholder

    ({ fake } = await startFake(7, { location: "EU" }));
    const key = fake.createKey();
    runner = new SyncRunner(BigQueryConnector, { ...config, service_account_json: JSON.stringify(key), base_url: fake.apiUrl }, SETTINGS);
    const { result } = await runner.sync();
    expect(failures(result)).toBe("");
    expect(result.entities.map((e) => e.records > 0)).toEqual(result.entities.map(() => true));
  });

  describe("every BigQuery type lands in SQLite and PostgreSQL", () => {
    const FIELDS: FieldSchema[] = [
      { name: "id", type: "INT64" },
      { name: "small_int", type: "INTEGER" },
      { name: "big_int", type: "INTEGER" },
      { name: "ratio", type: "FLOAT" },
      { name: "not_a_number", type: "FLOAT64" },
      { name: "amount", type: "NUMERIC" },
      { name: "tiny", type: "BIGNUMERIC" },
      { name: "flag", type: "BOOL" },
      { name: "label", type: "STRING" },
      { name: "raw", type: "BYTES" },
      { name: "happened_at", type: "TIMESTAMP" },
      { name: "epoch_edge", type: "TIMESTAMP" },
      { name: "day", type: "DATE" },
      { name: "clock", type: "TIME" },
      { name: "local_time", type: "DATETIME" },
      { name: "place", type: "GEOGRAPHY" },
      { name: "doc", type: "JSON" },
      {
        name: "address",
        type: "RECORD",
        fields: [
          { name: "street", type: "STRING" },
          { name: "zip", type: "INTEGER" },
          { name: "geo", type: "STRUCT", fields: [{ name: "lat", type: "FLOAT" }, { name: "lng", type: "FLOAT" }] },
          { name: "tags", type: "STRING", mode: "REPEATED" },
        ],
      },
      { name: "scores", type: "INTEGER", mode: "REPEATED" },
      { name: "lines", type: "RECORD", mode: "REPEATED", fields: [{ name: "sku", type: "STRING" }, { name: "qty", type: "INTEGER" }] },
    ];
    const SOURCE = [
      {
        id: 1,
        small_int: 42,
        big_int: 9007199254740993n,
        ratio: 3.25,
        not_a_number: NaN,
        amount: "12345678901234567890.123456789",
        tiny: "0.00000000000000000000000000000000000001",
        flag: true,
        label: 'héllo "quoted"\nnew line ✓',
        raw: Buffer.from([0, 1, 2, 254, 255]),
        happened_at: "2024-02-29T23:59:59.123456Z",
        epoch_edge: "1969-12-31T23:59:59.999999Z",
        day: "2024-02-29",
        clock: "13:45:30.500000",
        local_time: "2024-02-29T13:45:30.250000",
        place: "POINT(2.3522 48.8566)",
        doc: { a: 1, b: [true, null], c: "x" },
        address: { street: "1 Rue de Rivoli", zip: 75001, geo: { lat: 48.86, lng: 2.35 }, tags: ["home", "billing"] },
        scores: [1, 2, 3],
        lines: [{ sku: "A-1", qty: 2 }, { sku: "B-2", qty: 1 }],
      },
      { id: 2, small_int: -7, flag: false, label: "", scores: [], lines: [], address: { street: null, zip: null, geo: null, tags: [] } },
    ];
    /** What the connector makes of SOURCE (one line of the decode table each). */
    const DECODED: DataRecord[] = [
      {
        id: 1,
        small_int: 42,
        big_int: "9007199254740993",
        ratio: 3.25,
        not_a_number: "NaN",
        amount: "12345678901234567890.123456789",
        tiny: "0.00000000000000000000000000000000000001",
        flag: true,
        label: 'héllo "quoted"\nnew line ✓',
        raw: "AAEC/v8=",
        happened_at: "2024-02-29T23:59:59.123456Z",
        epoch_edge: "1969-12-31T23:59:59.999999Z",
        day: "2024-02-29",
        clock: "13:45:30.500000",
        local_time: "2024-02-29T13:45:30.250000",
        place: "POINT(2.3522 48.8566)",
        doc: { a: 1, b: [true, null], c: "x" },
        address: { street: "1 Rue de Rivoli", zip: 75001, geo: { lat: 48.86, lng: 2.35 }, tags: ["home", "billing"] },
        scores: [1, 2, 3],
        lines: [{ sku: "A-1", qty: 2 }, { sku: "B-2", qty: 1 }],
      },
      {
        id: 2,
        small_int: -7,
        big_int: null,
        ratio: null,
        not_a_number: null,
        amount: null,
        tiny: null,
        flag: false,
        label: "",
        raw: null,
        happened_at: null,
        epoch_edge: null,
        day: null,
        clock: null,
        local_time: null,
        place: null,
        doc: null,
        address: { street: null, zip: null, geo: null, tags: [] },
        scores: [],
        lines: [],
      },
    ];
    const TYPED_ENTITIES = [
      { name: "listed", table: "types.everything" },
      { name: "queried", query: "SELECT * FROM types.everything ORDER BY id" },
    ];

    /** A destination row back as JSON values: SQLite keeps JSON columns as text and booleans as 0/1. */
    function asJson(row: DataRecord, kind: "sqlite" | "postgres"): DataRecord {
      const out: DataRecord = {};
      for (const [k, v] of Object.entries(row)) {
        if (k.startsWith("_mako_")) continue;
        if (kind === "sqlite" && typeof v === "string" && ["doc", "address", "scores", "lines"].includes(k)) out[k] = JSON.parse(v);
        else if (kind === "sqlite" && k === "flag" && typeof v === "number") out[k] = v === 1;
        else out[k] = v;
      }
      return out;
    }

    async function syncInto(destination: Destination, namespace: string) {
      const f = fake!;
      const key = f.createKey();
      const settings = { ...SETTINGS, batchSize: 1 };
      const result = await new SyncEngine().run({
        runId: `types_${namespace}`,
        namespace,
        connector: new BigQueryConnector({ name: namespace, connector: "bigquery", config: configOf(f, key, TYPED_ENTITIES), settings }),
        destination,
        settings,
      });
      expect(result.entities.map((e) => e.error ?? "ok")).toEqual(["ok", "ok"]);
      for (const entity of ["listed", "queried"]) {
        const rows = await destination.readRows({ namespace, entity }, { limit: 10, offset: 0 });
        expect(rows.map((r) => asJson(r, destination.constructor.name.startsWith("Sqlite") ? "sqlite" : "postgres")), entity).toEqual(DECODED);
      }
    }

    const pgAdmin = "postgres://postgres@127.0.0.1:5432/test";
    const database = `mako_bq_${process.pid}_${Date.now().toString(36)}`;
    let pgCreated = false;
    afterAll(async () => {
      if (!pgCreated) return;
      const c = new pg.Client(pgAdmin);
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await c.end();
    });

    it("SQLite", async () => {
      fake = await startBigQueryFake();
      fake.createTable("types.everything", FIELDS, SOURCE);
      const destination = await openDestination({ kind: "sqlite", url: ":memory:" });
      await syncInto(destination, "src");
      await destination.close();
    });

    it("PostgreSQL", async () => {
      fake = await startBigQueryFake();
      fake.createTable("types.everything", FIELDS, SOURCE);
      const admin = new pg.Client(pgAdmin);
      await admin.connect(); // no server: the test fails here, loudly
      await admin.query(`CREATE DATABASE ${database}`);
      pgCreated = true;
      await admin.end();
      const destination = await openDestination({ kind: "postgres", url: `postgres://postgres@127.0.0.1:5432/${database}` });
      await syncInto(destination, `bq_${process.pid}`);
      await destination.close();
    });
  });

  describe("faults", () => {
    it("retries 5xx backendError and 403 rateLimitExceeded, but not 403 accessDenied", async () => {
      ({ fake } = await startFake(6));
      const key = fake.createKey();
      fake.injectFault({ path: "/queries", ...bigQueryError(503, "backendError", "Error encountered during execution. Retrying may solve the problem."), times: 2 });
      fake.injectFault({ path: "/data", ...bigQueryError(403, "rateLimitExceeded", "Exceeded rate limits: too many api requests per user per method for this user_method.", "usageLimits"), times: 2 });
      runner = new SyncRunner(BigQueryConnector, configOf(fake, key, ENTITIES), { ...SETTINGS, maxRetries: 3 });
      const { result, logs } = await runner.sync();
      expect(failures(result)).toBe("");
      expect(fake.stats.faults).toBe(4);
      expect(result.stats.retries).toBe(4);
      expect(logs.some((l) => /HTTP 403 .*rateLimitExceeded: Exceeded rate limits.*retry 1\/3/.test(l) && !l.includes("credentials rejected"))).toBe(true);

      fake.denyTable("crm.customers");
      const before = fake.stats.requests;
      const denied = await runner.sync({ entities: ["customers"] });
      expect(denied.result.entities[0].error).toMatch(/^bigquery: entity "customers": GET \S+\/tables\/customers failed: HTTP 403 Forbidden, credentials rejected: accessDenied: Access Denied: Table mako-fake:crm\.customers/);
      expect(fake.stats.requests - before).toBe(2); // token + tables.get, no retry
    });

    it("an invalid query, a missing table and a wrong location each give one line naming the entity", async () => {
      ({ fake } = await startFake(3));
      const key = fake.createKey();
      runner = new SyncRunner(
        BigQueryConnector,
        configOf(fake, key, [
          { name: "typo", query: "SELECT id, nope FROM shop.orders" },
          { name: "gone", table: "shop.missing" },
          { name: "gone_query", query: "SELECT * FROM shop.missing" },
          { name: "no_key", query: "SELECT customer FROM shop.orders" },
        ]),
        SETTINGS,
      );
      const { result } = await runner.sync();
      const errors = Object.fromEntries(result.entities.map((e) => [e.entity, e.error]));
      expect(errors.typo).toMatch(/^bigquery: entity "typo": POST \S+\/queries failed: HTTP 400 Bad Request: invalidQuery: Unrecognized name: nope at \[1:12\]$/);
      expect(errors.gone).toMatch(/^bigquery: entity "gone": GET \S+ failed: HTTP 404 Not Found: notFound: Not found: Table mako-fake:shop\.missing was not found in location US$/);
      expect(errors.gone_query).toMatch(/^bigquery: entity "gone_query": POST \S+ failed: HTTP 404 Not Found: notFound: Not found: Table mako-fake:shop\.missing/);
      expect(errors.no_key).toBe('bigquery: entity "no_key": primary_key "id" is not a column of the result (columns: customer)');
      for (const e of result.entities) {
        expect(e.error).not.toContain("\n");
        expect(e.chunkRetries).toBe(0);
      }

      const elsewhere = new SyncRunner(BigQueryConnector, configOf(fake, key, [{ name: "orders", query: "SELECT * FROM shop.orders" }], { location: "asia-northeast1" }), SETTINGS);
      const wrong = await elsewhere.sync();
      expect(wrong.result.entities[0].error).toMatch(/^bigquery: entity "orders": POST \S+\/queries failed: HTTP 404 Not Found: notFound: Not found: Dataset mako-fake:shop was not found in location asia-northeast1$/);
      await elsewhere.close();
    });

    it("reads jobs in a single-region location, whose results need the location on every call", async () => {
      fake = await startBigQueryFake({ location: "europe-west1" });
      fake.createTable("shop.orders", ORDER_FIELDS, Array.from({ length: 9 }, (_, i) => order(i + 1)));
      const key = fake.createKey();
      runner = new SyncRunner(BigQueryConnector, configOf(fake, key, [{ name: "orders", query: "SELECT * FROM shop.orders" }], { location: "europe-west1" }), SETTINGS);
      const { result } = await runner.sync();
      expect(failures(result)).toBe("");
      expect((await runner.live("orders")).size).toBe(9);
    });

    it("a bad key, and a key revoked while its token lives (401 once the token expires), each give one line", async () => {
      ({ fake } = await startFake(12));
      const f = fake;
      const key = f.createKey();
      // A key pair made here: the account exists, but Google never saw this key.
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const forged = { ...key, private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
      const bad = new BigQueryConnector({ name: "b", connector: "bigquery", config: configOf(f, forged, ENTITIES), settings: SETTINGS });
      const test = await bad.testConnection();
      expect(test).toEqual({ success: false, message: expect.stringMatching(/^bigquery: service account key rejected \(POST \S+\/token failed: HTTP 400 Bad Request: invalid_grant: Invalid JWT Signature\.\)$/) });
      expect(test.message).not.toContain("PRIVATE KEY");

      // Tokens expiring mid-sync with a good key: a new token, nothing else seen.
      runner = new SyncRunner(BigQueryConnector, configOf(f, key, ENTITIES.slice(0, 1)), { ...SETTINGS, batchSize: 2 });
      const tokensBefore = f.counters.tokenRequests;
      let expiredOnce = false;
      const refreshed = await runner.sync({
        onEvent: (e) => {
          if (e.type === "progress" && e.committed > 0 && !expiredOnce) {
            expiredOnce = true;
            f.expireTokens();
          }
        },
      });
      expect(failures(refreshed.result)).toBe("");
      expect(f.counters.tokenRequests - tokensBefore).toBe(2);
      expect(f.stats.unauthorized).toBe(1);

      // The key deleted, then the token it got expires: the 401 asks for a new token, which is refused.
      let revoked = false;
      const { result } = await runner.sync({
        fullRefresh: true,
        onEvent: (e) => {
          if (e.type === "progress" && e.committed > 0 && !revoked) {
            revoked = true;
            f.revokeKey(key.private_key_id);
            f.expireTokens();
          }
        },
      });
      const error = result.entities[0].error!;
      expect(error).toMatch(/^bigquery: entity "orders": service account key rejected \(POST \S+\/token failed: HTTP 400 Bad Request: invalid_grant: Invalid JWT Signature\.\)$/);
      expect(result.entities[0].chunkRetries).toBe(0);
      expect((await runner.checkpoint("orders"))?.fetchState?.hasMore).toBe(true);
      expect(f.stats.unauthorized).toBe(2);
    });
  });

  describe("config", () => {
    it("is checked field by field, one line each, and its key stays secret", async () => {
      ({ fake } = await startFake(1));
      const key = fake.createKey();
      const check = (config: Record<string, unknown>) => {
        const r = validateConfig(bigqueryConfigSchema, config);
        return r.ok ? "ok" : r.errors.join("; ");
      };
      const good = configOf(fake, key, [{ name: "orders", table: "shop.orders" }]);
      expect(check(good)).toBe("ok");
      expect(check({ ...good, service_account_json: key })).toBe("ok"); // the key file as an object (YAML config)
      expect(check({ ...good, servce_account: "x" })).toBe('unknown field "servce_account" (fields are: service_account_json, project_id, location, base_url, entities)');
      expect(check({ ...good, service_account_json: "{not json" })).toBe("service_account_json: is not valid JSON (paste the whole key file)");
      expect(check({ ...good, service_account_json: { ...key, private_key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" } })).toBe(
        "service_account_json: private_key: not a PEM private key",
      );
      expect(check({ ...good, service_account_json: { ...key, type: "authorized_user" } })).toBe(
        'service_account_json: type: type must be "service_account" (a service account key file, not an OAuth client)',
      );
      expect(check({ ...good, service_account_json: { ...key, token_uri: "http://evil.example/token" } })).toBe(
        "service_account_json: token_uri: must be an https URL (plain http only to 127.0.0.1 or localhost)",
      );
      expect(check({ ...good, base_url: "http://proxy.example/bigquery/v2" })).toBe("base_url: must be an https URL (plain http only to 127.0.0.1 or localhost)");
      expect(check({ ...good, entities: [{ name: "o", table: "shop.orders", query: "SELECT 1" }] })).toBe("entities[0]: give either table or query (one of them)");
      expect(check({ ...good, entities: [{ name: "o", table: "shop.orders`; DROP TABLE x; --" }] })).toBe("entities[0].table: must be dataset.table or project.dataset.table");
      expect(check({ ...good, entities: [{ name: "o", table: "shop.orders", cursor_field: "updated_at` > 0 --" }] })).toBe(
        "entities[0].cursor_field: must be a top-level column name (letters, digits, _)",
      );
      expect(check({ ...good, entities: [{ name: "o", query: "SELECT * FROM t WHERE x > @since", cursor_field: "x" }] })).toBe(
        "entities[0].query: must not use @since: with cursor_field the connector adds the filter itself",
      );
      expect(check({ ...good, entities: [{ name: "o", table: "shop.orders" }, { name: "o", table: "crm.customers" }] })).toBe('entities[1].name: "o" is already used by entities[0]');

      expect(secretPaths(bigqueryConfigSchema, good)).toEqual([["service_account_json"]]);
      const shown = JSON.stringify(redactConfig(good, secretPaths(bigqueryConfigSchema, good)));
      expect(shown).not.toContain("PRIVATE KEY");
      expect(shown).not.toContain(key.client_email);
    });

    it("defaults the project to the key's, and a project the key may not run jobs in fails the connection test", async () => {
      ({ fake } = await startFake(1));
      const key = fake.createKey();
      const ok = await new BigQueryConnector({ name: "a", connector: "bigquery", config: configOf(fake, key, ENTITIES), settings: SETTINGS }).testConnection();
      expect(ok).toEqual({ success: true, message: `Connected to BigQuery project mako-fake as ${key.client_email}` });
      const other = await new BigQueryConnector({ name: "a", connector: "bigquery", config: configOf(fake, key, ENTITIES, { project_id: "someone-else" }), settings: SETTINGS }).testConnection();
      expect(other.success).toBe(false);
      expect(other.message).toMatch(/accessDenied: Access Denied: Project someone-else: User does not have bigquery\.jobs\.create permission in project someone-else\.$/);
    });
  });
});
