import { Hono } from "hono";
import type { EntityDescriptor } from "../../connectors/base/types";
import { type Mako, SecretsMustBeReenteredError, ValidationError } from "../../Mako";
import { checkConfig, configSchemaOf } from "../configValidation";
import { ApiError } from "../httpErrors";
import type { LiveRuns } from "../LiveRuns";
import { addSourceBody, jsonBody, parseOr400, patchSourceBody, removeQuery, rowsQuery, syncBody } from "../requestSchemas";
import { sourceView } from "../views";
import { describeWebhook } from "../../webhooks/setup";

/** Sources: CRUD, connection test, sync, and the preview of their synced tables. */
export function sourceRoutes(mako: Mako, live: LiveRuns): Hono {
  const app = new Hono();

  const view = async (name: string) => {
    const source = await mako.sources.get(name);
    const [lastRun] = await mako.runs.list({ source: name, limit: 1 });
    return sourceView(source, configSchemaOf(source.connector), lastRun ?? null, await entitiesOf(mako, name));
  };

  app.get("/", async (c) => {
    const sources = await mako.sources.list();
    return c.json(await Promise.all(sources.map((s) => view(s.name))));
  });

  app.post("/", async (c) => {
    const { test, ...body } = parseOr400(addSourceBody, await jsonBody(c.req), "source");
    // Checked here so the error names `config.<field>`; the facade checks the name.
    const config = checkConfig(body.connector, body.config);
    const created = await mako.sources.add({ ...body, config, test: test ?? false });
    return c.json(await view(created.name), 201);
  });

  app.get("/:name", async (c) => c.json(await view(c.req.param("name"))));

  app.patch("/:name", async (c) => {
    const name = c.req.param("name");
    const patch = parseOr400(patchSourceBody, await jsonBody(c.req), "patch");
    const current = await mako.sources.get(name);
    try {
      // Every field is passed: the store spreads the patch, so an undefined one would erase it.
      // Secrets left out of `config` keep their stored value unless it changes where requests go.
      await mako.sources.update(name, {
        config: patch.config,
        settings: patch.settings ?? current.settings,
        destination: patch.destination === undefined ? current.destination : patch.destination,
        ...(patch.entities === undefined ? {} : { entities: patch.entities }),
      });
    } catch (err) {
      // The facade names config fields by their path in the config; the API by their path in the body.
      if (err instanceof SecretsMustBeReenteredError) throw new ApiError(400, err.message, `config.${err.fields[0]}`);
      if (err instanceof ValidationError && patch.config && err.field && err.field !== "config" && !/^(settings|destination|entities)\b/.test(err.field)) {
        throw new ApiError(400, err.message, `config.${err.field}`);
      }
      throw err;
    }
    return c.json(await view(name));
  });

  // ?data=drop deletes the source's tables and checkpoints wherever it wrote; ?data=keep leaves them.
  app.delete("/:name", async (c) => {
    const name = c.req.param("name");
    await mako.sources.get(name); // an unknown source is a 404 before the query is judged
    const { data } = parseOr400(removeQuery, c.req.query(), "query");
    const { droppedFrom } = await mako.sources.remove(name, { data });
    return c.json({ removed: name, data, droppedFrom });
  });

  app.post("/:name/test", async (c) => c.json(await mako.sources.test(c.req.param("name"))));

  // The webhook endpoint to register with the vendor (on the host this request came to) and the last event.
  app.get("/:name/webhook", async (c) => {
    const setup = await describeWebhook(mako, c.req.param("name"));
    return c.json({ ...setup, url: new URL(setup.path, c.req.url).href });
  });

  app.post("/:name/sync", async (c) => {
    const name = c.req.param("name");
    const body = parseOr400(syncBody, await jsonBody(c.req), "sync request");
    const runId = await live.start(name, body);
    return c.json({ runId }, 202);
  });

  app.get("/:name/tables", async (c) => {
    const source = await mako.sources.get(c.req.param("name"));
    return c.json(await withDestination(mako, source.destination, (d) => d.listTables(source.name)));
  });

  app.get("/:name/tables/:entity/rows", async (c) => {
    const source = await mako.sources.get(c.req.param("name"));
    const entity = c.req.param("entity");
    const { limit, offset } = parseOr400(rowsQuery, c.req.query(), "query");
    return c.json(
      await withDestination(mako, source.destination, async (d) => {
        const table = (await d.listTables(source.name)).find((t) => t.entity === entity);
        if (!table) throw new ApiError(404, `source "${source.name}" has no synced table for entity "${entity}"`);
        const rows = await d.readRows({ namespace: source.name, entity }, { limit, offset });
        return { columns: table.columns.map((col) => col.name), rows, total: table.rows, limit, offset };
      }),
    );
  });

  return app;
}

/** The entities a source can sync: a REST or GraphQL source declares its own in its config. */
async function entitiesOf(mako: Mako, name: string): Promise<EntityDescriptor[]> {
  const source = await mako.sources.unredacted(name);
  try {
    return mako.createConnector(source.connector, source).describeEntities();
  } catch {
    return mako.connectors.get(source.connector).entities;
  }
}

async function withDestination<T>(mako: Mako, name: string | null, use: (d: Awaited<ReturnType<Mako["openDestination"]>>) => Promise<T>): Promise<T> {
  const destination = await mako.openDestination(name);
  try {
    return await use(destination);
  } finally {
    // The default destination is shared with the facade; others were opened for this request.
    if (destination !== mako.defaultDestination) await destination.close();
  }
}
