import { Hono } from "hono";
import { z } from "zod";
import type { Mako } from "../../Mako";
import { ScheduleInputError } from "../../schedules/cron";
import { ApiError } from "../httpErrors";
import { jsonBody, parseOr400 } from "../requestSchemas";

/** PUT's body; the cron, zone and misfire policy themselves are checked by the facade, which names the field. */
const scheduleBody = z
  .object({
    cron: z.string().max(200),
    timezone: z.string().max(64).optional(),
    misfire: z.string().max(40).optional(),
  })
  .strict();

/** A source's schedule: GET (null when it has none), PUT, DELETE, POST …/pause and …/resume. */
export function scheduleRoutes(mako: Mako): Hono {
  const app = new Hono();

  app.get("/:name/schedule", async (c) => {
    const name = c.req.param("name");
    await mako.store.getSource(name); // an unknown source is a 404; a source without a schedule is null
    return c.json(await mako.schedules.find(name));
  });

  app.put("/:name/schedule", async (c) => {
    const body = parseOr400(scheduleBody, await jsonBody(c.req), "schedule");
    return c.json(await asApiError(() => mako.schedules.set(c.req.param("name"), body)));
  });

  app.delete("/:name/schedule", async (c) => {
    const name = c.req.param("name");
    await mako.schedules.remove(name);
    return c.json({ removed: name });
  });

  app.post("/:name/schedule/pause", async (c) => c.json(await mako.schedules.pause(c.req.param("name"))));
  app.post("/:name/schedule/resume", async (c) => c.json(await mako.schedules.resume(c.req.param("name"))));

  return app;
}

async function asApiError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ScheduleInputError) throw new ApiError(400, err.message, err.field);
    throw err;
  }
}
