import { join, relative } from "node:path";
import type { Mako } from "../Mako";
import { NotFoundError } from "../store/MetadataStore";
import { syncCommand } from "./syncCommand";

const SAMPLE = "sample";

/**
 * `npm start`: the web UI and API on http://localhost:3000, with a sample source added and
 * synced on first start, and the SQL to look at what was written.
 */
export async function startCommand(
  mako: Mako,
  options: { count: number; serve: boolean; port: number; allowedHosts?: string[] },
): Promise<void> {
  const server = options.serve ? await serveUi(mako, options.port, options.allowedHosts) : undefined;
  let added = false;
  try {
    await mako.sources.get(SAMPLE);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    // Mako's own demo: what an earlier sample source left is sample data too, continued from.
    await mako.sources.add({ name: SAMPLE, connector: "sample", config: { count: options.count, seed: 42 }, data: "adopt" });
    console.log(`added the sample source "${SAMPLE}" (${options.count} users, products and purchases)`);
    added = true;
  }
  if (added || !options.serve) await syncCommand(mako, SAMPLE, {});
  console.log("");
  const tables = await mako.defaultDestination.listTables(SAMPLE);
  for (const t of tables) console.log(`  table ${t.table.padEnd(20)} ${t.rows} rows, ${t.columns.length} columns`);
  const users = tables.find((t) => t.entity === "users")?.table ?? "sample__users";
  console.log(`\nQuery it with SQL, e.g.:\n  npx mako sql 'SELECT plan, count(*) FROM ${users} GROUP BY plan'`);
  if (mako.embedded) {
    const db = relative(process.cwd(), join(mako.home, "mako.db")) || join(mako.home, "mako.db");
    console.log(`  sqlite3 ${db} 'SELECT * FROM ${users} LIMIT 5'`);
  }
  console.log(`More: npx mako --help · npx mako connectors · npx mako sync ${SAMPLE} · npx mako runs`);
  if (server) {
    console.log(`\nMako is running at ${server.url} — Ctrl-C to stop`);
    await untilInterrupted();
    await server.close();
  }
}

/** The UI and API, and the scheduler that fires sources' schedules while they run. */
async function serveUi(mako: Mako, port: number, allowedHosts?: string[]) {
  const [{ ensureUiBuilt, startServer }, { startScheduler }] = await Promise.all([import("../server"), import("./scheduler")]);
  await ensureUiBuilt({ log: (line) => console.log(line) });
  const server = await startServer({ mako, port, allowedHosts });
  const scheduler = await startScheduler(mako);
  return {
    url: server.url,
    close: async () => {
      await scheduler.stop();
      await server.close();
    },
  };
}

/** Resolves on Ctrl-C or SIGTERM: the server runs until then. */
export function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
