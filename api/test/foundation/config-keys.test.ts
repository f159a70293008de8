import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { validateConfig } from "../../src/connectors/base/validateConfig";
import { connectorRegistry } from "../../src/connectors/registry";
import { Mako, ValidationError } from "../../src/Mako";
import { MyServiceConnector } from "../fixtures/my-service/connector";

/** A service account key as Google's console hands it out (a fresh RSA key; nothing is called). */
function serviceAccountKey(): Record<string, string> {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    type: "service_account",
    project_id: "shop-analytics",
    private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    client_email: "reader@shop-analytics.iam.gserviceaccount.com",
    token_uri: "https://oauth2.googleapis.com/token",
  };
}

describe("unknown config keys", () => {
  let home: string;
  let mako: Mako;
  beforeEach(async () => {
    home = mkdtempSync(join(tmpdir(), "mako-config-keys-"));
    mako = await Mako.open({ home });
  });
  afterEach(async () => {
    await mako.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("refuses a misspelt key of a plain zod object, naming it and the known keys, and stores nothing", async () => {
    const add = mako.sources.add({ name: "x", connector: "sample", config: { cout: 5 } });
    await expect(add).rejects.toThrow(ValidationError);
    await expect(add).rejects.toThrow('invalid config for connector "sample": unknown field "cout" (fields are: count, seed, page_delay_ms)');
    await expect(add).rejects.toMatchObject({ field: "cout" });
    expect(await mako.sources.list()).toEqual([]);
  });

  it("refuses unknown keys for every registered connector", async () => {
    const valid: Record<string, Record<string, unknown>> = {
      sample: {},
      stripe: { api_key: "sk_test_x" },
      close: { api_key: "api_x" },
      posthog: { api_key: "phx_x", project_id: "1" },
      rest: { base_url: "https://api.example.com", entities: [{ name: "users" }] },
      graphql: { endpoint: "https://api.example.com/graphql", entities: [{ name: "users", query: "{ users { id } }" }] },
      bigquery: { service_account_json: serviceAccountKey(), entities: [{ name: "orders", table: "shop.orders" }] },
    };
    expect(Object.keys(valid).sort()).toEqual(Object.keys(connectorRegistry).sort());
    for (const [id, config] of Object.entries(valid)) {
      await expect(mako.sources.add({ name: `ok_${id}`, connector: id, config }), id).resolves.toMatchObject({ connector: id });
      await expect(mako.sources.add({ name: `bad_${id}`, connector: id, config: { ...config, typo_key: 1 } }), id).rejects.toThrow(
        new RegExp(`invalid config for connector "${id}": unknown field "typo_key" \\(fields are: ${Object.keys(config)[0] ?? "count"}\\b`),
      );
    }
    expect((await mako.sources.list()).map((s) => s.name).sort()).toEqual(Object.keys(valid).map((id) => `ok_${id}`).sort());
  });

  it("finds them at any depth of a described API, with the keys known there", async () => {
    const config = {
      base_url: "https://api.example.com",
      auth: { type: "bearer", token: "t", tokn: "t" },
      entities: [{ name: "users", paginator: { type: "page_number", sise_param: "per_page" } }],
    };
    const add = mako.sources.add({ name: "api", connector: "rest", config });
    await expect(add).rejects.toThrow(
      'entities[0].paginator: unknown field "sise_param" (fields are: type, param, start, size_param, page_size, has_more_path, total_path, total_pages_path, total_header)',
    );
    await expect(add).rejects.toThrow('auth: unknown field "tokn" (fields are: type, token)');
    await expect(add).rejects.toMatchObject({ field: "auth.tokn" });
  });

  it("checks a source's update as strictly as its creation", async () => {
    await mako.sources.add({ name: "x", connector: "sample", config: { count: 3 } });
    await expect(mako.sources.update("x", { config: { count: 4, sede: 2 } })).rejects.toThrow(/unknown field "sede"/);
    expect((await mako.sources.get("x")).config).toEqual({ count: 3, seed: 1, page_delay_ms: 0 });
  });

  it("accepts any key where a schema says so: records, catch-alls, and connectors without a schema", () => {
    expect(validateConfig(z.record(z.string(), z.unknown()), { anything: 1 })).toEqual({ ok: true, config: { anything: 1 } });
    expect(validateConfig(z.looseObject({ a: z.number() }), { a: 1, b: 2 })).toEqual({ ok: true, config: { a: 1, b: 2 } });
    expect(validateConfig(z.object({ h: z.record(z.string(), z.string()) }), { h: { "X-Any": "1" } })).toMatchObject({ ok: true });
    // The guide's example connector declares no schema: whatever its author passes is kept.
    const guide = new MyServiceConnector({ name: "g", connector: "my-service", config: {}, settings: {} });
    expect(validateConfig(guide.getConfigSchema(), { api_key: "k", region: "eu" })).toEqual({ ok: true, config: { api_key: "k", region: "eu" } });
  });

  it("names unknown keys inside arrays and unions, and still reports the other faults", () => {
    const schema = z.object({
      items: z.array(z.object({ id: z.number() })),
      mode: z.union([z.object({ fast: z.boolean() }), z.string()]),
    });
    const result = validateConfig(schema, { items: [{ id: 1 }, { id: "2", idd: 3 }], mode: { fast: true, fastest: true } });
    expect(result).toEqual({
      ok: false,
      errors: [
        'items[1]: unknown field "idd" (fields are: id)',
        'mode: unknown field "fastest" (fields are: fast)',
        "items[1].id: Invalid input: expected number, received string",
      ],
      field: "items[1].idd",
    });
  });
});
