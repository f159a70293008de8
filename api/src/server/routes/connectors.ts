import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Hono } from "hono";
import { apiRoot } from "../../apiRoot";
import type { Mako } from "../../Mako";
import { checkConfig } from "../configValidation";
import { ApiError } from "../httpErrors";
import { jsonBody, parseOr400, testConfigBody } from "../requestSchemas";

const connectorsDir = join(apiRoot, "src", "connectors");

/** GET /api/connectors, GET /api/connectors/:id/icon.svg, POST /api/connectors/:id/test. */
export function connectorRoutes(mako: Mako): Hono {
  const app = new Hono();

  app.get("/", (c) =>
    c.json(mako.connectors.list().map((info) => ({ ...info, iconUrl: `/api/connectors/${encodeURIComponent(info.id)}/icon.svg` }))),
  );

  app.get("/:id/icon.svg", async (c) => {
    const id = c.req.param("id");
    const info = mako.connectors.list().find((x) => x.id === id);
    if (!info) throw new ApiError(404, `unknown connector "${id}"`);
    // Ids are registry keys; the folder of the same name holds the icon (the SDK guide's layout).
    const file = /^[a-z0-9_-]+$/i.test(id) ? join(connectorsDir, id, "icon.svg") : "";
    const svg = file && existsSync(file) ? await readFile(file, "utf8") : monogram(info.name);
    return c.body(svg, 200, { "content-type": "image/svg+xml", "cache-control": "public, max-age=3600" });
  });

  /** Tests a config before it is stored: the add-source form's Test connection button. */
  app.post("/:id/test", async (c) => {
    const id = c.req.param("id");
    const { config } = parseOr400(testConfigBody, await jsonBody(c.req), "request");
    const valid = checkConfig(id, config);
    let connector;
    try {
      connector = mako.createConnector(id, { name: id, config: valid });
    } catch (err) {
      throw new ApiError(400, `invalid config: ${err.message}`, "config");
    }
    try {
      return c.json(await connector.testConnection());
    } catch (err) {
      return c.json({ success: false, message: err.message });
    }
  });

  return app;
}

/** An icon for a connector that ships none: its initial on a neutral tile. */
function monogram(name: string): string {
  const letter = (name.trim()[0] ?? "?").toUpperCase().replace(/[<>&"']/g, "?");
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" width="64" height="64"><rect x="4" y="4" width="56" height="56" rx="12" fill="#64748b"/><text x="32" y="42" font-family="sans-serif" font-size="28" font-weight="700" fill="#fff" text-anchor="middle">${letter}</text></svg>`;
}
