import type { Command } from "commander";
import type { Mako } from "../Mako";
import { CliError } from "./output";

/** Commands for destinations (and, as they arrive, the server and the conformance kit). */
export function registerExtraCommands(program: Command, mako: () => Promise<Mako>): void {
  const destinations = program
    .command("destinations")
    .description("manage destinations (databases syncs write to; credentials encrypted at rest)");
  destinations
    .command("add <name>")
    .description("store a destination")
    .requiredOption("--type <kind>", "sqlite | postgres | mysql | duckdb")
    .requiredOption("--url <url>", "connection URL (postgres://…, mysql://…) or file path (sqlite, duckdb)")
    .action(async (name: string, o) => {
      const d = await (await mako()).destinations.add({ name, kind: o.type, url: o.url });
      console.log(`added destination "${d.name}" (${d.kind}); use it with: mako sync SOURCE --destination ${d.name}`);
    });
  destinations
    .command("list")
    .description("list destinations (passwords hidden)")
    .action(async () => {
      const list = await (await mako()).destinations.list();
      if (list.length === 0) console.log("no destinations: syncs write to the embedded SQLite file");
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
