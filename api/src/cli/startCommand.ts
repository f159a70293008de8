import { join, relative } from "node:path";
import type { Mako } from "../Mako";
import { NotFoundError } from "../store/MetadataStore";
import { syncCommand } from "./syncCommand";

const SAMPLE = "sample";

/** `npm start`: a sample source synced into the embedded file, and how to look at it. */
export async function startCommand(mako: Mako, count: number): Promise<void> {
  try {
    await mako.sources.get(SAMPLE);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    await mako.sources.add({ name: SAMPLE, connector: "sample", config: { count, seed: 42 } });
    console.log(`added the sample source "${SAMPLE}" (${count} users, products and purchases)`);
  }
  await syncCommand(mako, SAMPLE, {});
  const db = relative(process.cwd(), join(mako.home, "mako.db")) || join(mako.home, "mako.db");
  console.log("");
  for (const t of await mako.embedded.listTables(SAMPLE)) console.log(`  table ${t.table.padEnd(20)} ${t.rows} rows, ${t.columns.length} columns`);
  console.log(`\nQuery it with SQL, e.g.:\n  sqlite3 ${db} 'SELECT plan, count(*) FROM "sample__users" GROUP BY plan'`);
  console.log(`Next: npx mako connectors · npx mako sync ${SAMPLE} · npx mako runs`);
}
