import { Hono } from "hono";
import { streamSSE, type SSEStreamingApi } from "hono/streaming";
import type { Mako } from "../../Mako";
import type { LogLine, RunRecord } from "../../store/MetadataStore";
import { ApiError } from "../httpErrors";
import type { LiveMessage, LiveRuns, LogPayload, ProgressPayload } from "../LiveRuns";
import { runView } from "../views";

/** How often a run started by another process (the CLI) is re-read for its SSE stream. */
const POLL_MS = 1000;
const HEARTBEAT_MS = 15_000;

/** GET /api/runs, GET /api/runs/:id, its events (SSE), POST /api/runs/:id/cancel. */
export function runRoutes(mako: Mako, live: LiveRuns): Hono {
  const app = new Hono();

  app.get("/", async (c) => {
    const source = c.req.query("source") || undefined;
    const limit = Math.min(500, Math.max(1, Number(c.req.query("limit")) || 50));
    if (source) await mako.sources.get(source); // unknown source: 404, not an empty list
    return c.json((await mako.runs.list({ source, limit })).map(runView));
  });

  app.get("/:id", async (c) => {
    const id = c.req.param("id");
    const run = await mako.runs.get(id);
    const logs = (await mako.runs.logs(id, { limit: 5000 })).map(logPayload);
    return c.json({ ...runView(run), logs });
  });

  app.post("/:id/cancel", async (c) => {
    const id = c.req.param("id");
    const run = await mako.runs.get(id);
    if (run.status !== "running") throw new ApiError(409, `run ${id} is not running (it ${run.status})`);
    // A run of another process (the CLI's) stops when it next reads its record (within a second).
    if (!(await mako.runs.cancel(id))) throw new ApiError(409, `run ${id} is not running any more`);
    return c.json({ cancelled: true }, 202);
  });

  app.get("/:id/events", async (c) => {
    const id = c.req.param("id");
    const run = await mako.runs.get(id); // 404 before the stream opens
    c.header("cache-control", "no-cache");
    c.header("x-accel-buffering", "no");
    return streamSSE(c, async (stream) => {
      const heartbeat = setInterval(() => void stream.write(": keep-alive\n\n"), HEARTBEAT_MS);
      try {
        const followed = live.get(id);
        if (followed) await followLive(stream, followed);
        else await followStore(stream, mako, run);
      } finally {
        clearInterval(heartbeat);
      }
    });
  });

  return app;
}

async function send(stream: SSEStreamingApi, message: LiveMessage): Promise<void> {
  await stream.writeSSE({ event: message.event, data: JSON.stringify(message.data) });
}

/** A run of this process: its snapshot, then each message until the end. */
async function followLive(stream: SSEStreamingApi, run: NonNullable<ReturnType<LiveRuns["get"]>>): Promise<void> {
  const queue: LiveMessage[] = run.snapshot();
  let wake: (() => void) | undefined;
  let ended = queue.some((m) => m.event === "end");
  const unsubscribe = ended
    ? () => {}
    : run.subscribe((m) => {
        queue.push(m);
        wake?.();
      });
  stream.onAbort(() => {
    unsubscribe();
    ended = true;
    wake?.();
  });
  try {
    for (;;) {
      while (queue.length) {
        const m = queue.shift()!;
        await send(stream, m);
        if (m.event === "end") return;
      }
      if (ended || stream.aborted) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    unsubscribe();
  }
}

/** A run this server did not start (or one that ended): read from the store until it ends. */
async function followStore(stream: SSEStreamingApi, mako: Mako, first: RunRecord): Promise<void> {
  let run = first;
  let afterId = 0;
  for (;;) {
    const logs: LogLine[] = await mako.runs.logs(run.id, { afterId, limit: 1000 });
    for (const line of logs) {
      afterId = line.id;
      await send(stream, { event: "log", data: logPayload(line) });
    }
    for (const e of runView(run).entities) {
      const progress: ProgressPayload = {
        entity: e.entity,
        records: e.records,
        committed: e.records,
        recordsPerSecond: e.recordsPerSecond,
        retries: e.retries,
        rateLimited: 0,
        waiting: false,
        status: e.status as ProgressPayload["status"],
      };
      await send(stream, { event: "progress", data: progress });
    }
    if (run.status !== "running") {
      await send(stream, { event: "end", data: runView(run) });
      return;
    }
    await stream.sleep(POLL_MS);
    if (stream.aborted) return;
    run = await mako.runs.get(run.id);
  }
}

function logPayload(line: LogLine): LogPayload {
  return { at: line.at, level: line.level, message: line.message, ...(line.entity ? { entity: line.entity } : {}) };
}
