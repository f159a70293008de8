import type { Command } from "commander";
import type { Mako } from "../Mako";
import { READER_ROLE } from "../store/postgresUrl";
import { CliError, withNoTestHint } from "./output";
import { sqlCsv, sqlJsonLines, sqlTable } from "./sqlOutput";
import { untilInterrupted } from "./startCommand";

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Commands for destinations and the HTTP server. */
export function registerExtraCommands(program: Command, mako: () => Promise<Mako>): void {
  program
    .command("serve")
    .description("serve the HTTP API and the web UI (building the UI first if needed), and fire sources' schedules")
    .option("--port <port>", "port to listen on", "3000")
    .option("--host <host>", "address to bind; beyond loopback every API route needs the bearer token (MAKO_API_TOKEN)", "127.0.0.1")
    .option("--allowed-host <name>", "also answer requests addressed to this host name, e.g. a reverse proxy's (repeatable)", collect)
    .option("--no-ui", "serve the API only (the web UI is neither built nor served)")
    .action(async (o) => {
      const { ensureUiBuilt, startServer } = await import("../server");
      if (o.ui) await ensureUiBuilt({ log: (line) => console.log(line) });
      const m = await mako();
      const server = await startServer({ mako: m, port: Number(o.port), host: o.host, allowedHosts: o.allowedHost, ...(o.ui ? {} : { uiDir: false as const }) });
      const scheduler = await (await import("./scheduler")).startScheduler(m);
      console.log(`Mako is serving ${server.url} — Ctrl-C to stop`);
      await untilInterrupted();
      await scheduler.stop();
      await server.close();
    });

  program
    .command("sql <query>")
    .description(
      "run a read-only SQL query on the default database (mako.db, or DATABASE_URL) and print the rows;\n" +
        `on PostgreSQL, as role ${READER_ROLE} (created, SELECT on the sources' schemas only) when DATABASE_URL's role could reach the server's files or programs`,
    )
    .option("--json", "print rows as JSON, one object per line")
    .option("--csv", "print rows as CSV (RFC 4180) with a header line")
    .action(async (query: string, o) => {
      if (o.json && o.csv) throw new CliError("give --json or --csv, not both");
      const m = await mako();
      const { readOnlyQuery } = await import("../destinations/readOnlyQuery");
      let rows: Record<string, unknown>[];
      try {
        const schemas = m.embedded ? [] : await m.store.listSourceNames();
        rows = await readOnlyQuery(m.defaultDestination, query, { schemas, readerPassword: m.derivedSecret("postgres-reader") });
      } catch (err) {
        throw new CliError(`SQL error: ${err.message}`);
      }
      if (o.json) return sqlJsonLines(rows).forEach((line) => console.log(line));
      if (o.csv) return sqlCsv(rows).forEach((line) => console.log(line));
      if (rows.length === 0) return console.log("(no rows)");
      for (const line of sqlTable(rows)) console.log(line);
    });

  const destinations = program
    .command("destinations")
    .description("manage destinations (databases syncs write to; credentials encrypted at rest)");
  destinations
    .command("add <name>")
    .description("store a destination")
    .requiredOption("--type <kind>", "sqlite | postgres | mysql | duckdb")
    .requiredOption("--url <url>", "connection URL (postgres://…, mysql://…) or file path (sqlite, duckdb)")
    .option("--no-test", "store it without connecting to it first")
    .action(async (name: string, o) => {
      const d = await withNoTestHint((await mako()).destinations.add({ name, kind: o.type, url: o.url, test: o.test }));
      console.log(`added destination "${d.name}" (${d.kind})${o.test ? ", connection tested" : ""}; use it with: npx mako sync SOURCE --destination ${d.name}`);
    });
  destinations
    .command("update <name>")
    .description("give a destination a new connection URL (a password left out is kept only while the server stays the same)")
    .requiredOption("--url <url>", "the new connection URL (postgres://…, mysql://…) or file path")
    .action(async (name: string, o) => {
      const d = await (await mako()).destinations.update(name, { url: o.url });
      console.log(`updated destination "${d.name}": ${d.url}`);
    });
  destinations
    .command("list")
    .description("list destinations (passwords hidden)")
    .action(async () => {
      const m = await mako();
      const list = await m.destinations.list();
      if (list.length === 0) console.log(`no destinations: syncs write to ${m.embedded ? "the embedded SQLite file" : "the DATABASE_URL database"}`);
      for (const d of list) console.log(`${d.name.padEnd(16)} ${d.kind.padEnd(9)} ${d.url}`);
    });
  destinations
    .command("test <name>")
    .description("connect to a destination")
    .action(async (name: string) => {
      const r = await (await mako()).destinations.test(name);
      if (!r.success) throw new CliError(`${name}: ${r.message}`);
      console.log(r.message);
    });
  destinations
    .command("remove <name>")
    .description("forget a destination (its data stays)")
    .action(async (name: string) => {
      await (await mako()).destinations.remove(name);
      console.log(`removed destination "${name}"`);
    });
}
