import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BaseConnector } from "../../src/connectors/base/BaseConnector";
import { connectorRegistry } from "../../src/connectors/registry";
import { Mako } from "../../src/Mako";

const connectorsDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../src/connectors");
const folders = readdirSync(connectorsDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && d.name !== "base")
  .map((d) => d.name)
  .sort();

describe("the connector registry", () => {
  it("finds connector folders at all", () => {
    expect(folders).toContain("sample");
  });

  it.each(folders)("folder %s has connector.ts, index.ts, icon.svg and is registered under its name", async (folder) => {
    for (const file of ["connector.ts", "index.ts", "icon.svg"]) {
      expect(existsSync(join(connectorsDir, folder, file)), `api/src/connectors/${folder}/${file} is missing`).toBe(true);
    }
    expect(readFileSync(join(connectorsDir, folder, "icon.svg"), "utf8")).toMatch(/<svg[\s>]/);
    const registered = connectorRegistry[folder];
    expect(registered, `connectorRegistry has no "${folder}" entry`).toBeDefined();
    // The registry maps the id to the class its folder's index exports.
    const exported = Object.values(await import(join(connectorsDir, folder, "index.ts")));
    expect(exported).toContain(registered);
  });

  it.each(Object.keys(connectorRegistry))("%s declares its entities and accepts an empty config", (id) => {
    const Connector = connectorRegistry[id];
    // Mako.connectors.list() builds each connector with {} to read its metadata.
    const connector = new Connector({ name: id, connector: id, config: {}, settings: {} });
    expect(connector).toBeInstanceOf(BaseConnector);
    const meta = connector.getMetadata();
    expect(meta.name).toEqual(expect.any(String));
    expect(meta.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(meta.supportedEntities.length).toBeGreaterThan(0);
    expect(new Set(meta.supportedEntities).size).toBe(meta.supportedEntities.length);
    const entities = connector.describeEntities();
    expect(entities.map((e) => e.name)).toEqual(meta.supportedEntities);
    for (const e of entities) expect(e.primaryKey.length, `${id}.${e.name} has no primary key`).toBeGreaterThan(0);
  });

  it("is what Mako.connectors.list() shows, each with a JSON Schema of its config", async () => {
    const home = mkdtempSync(join(tmpdir(), "mako-registry-"));
    const mako = await Mako.open({ home });
    try {
      const list = mako.connectors.list();
      expect(list.map((c) => c.id).sort()).toEqual(Object.keys(connectorRegistry).sort());
      for (const c of list) {
        expect(c.entities.length).toBeGreaterThan(0);
        expect((c.configSchema as { type?: string }).type).toBe("object");
      }
    } finally {
      await mako.close();
      rmSync(home, { recursive: true, force: true });
    }
  });
});
