import type { Command } from "commander";
import type { Mako } from "../Mako";
import { describeWebhook } from "../webhooks/setup";
import { CliError } from "./output";

/** `mako sources webhook NAME`: the endpoint to register with the vendor, and whether events arrive. */
export function registerWebhookCommand(sources: Command, mako: () => Promise<Mako>): void {
  sources
    .command("webhook <name>")
    .description("print the webhook URL to register with the source's vendor, the events to subscribe to, and whether the signing secret is set")
    .option("--host <host>", "the address mako serve listens on (its --host)", "127.0.0.1")
    .option("--port <port>", "the port mako serve listens on (its --port)", "3000")
    .action(async (name: string, o: { host: string; port: string }) => {
      const setup = await describeWebhook(await mako(), name);
      if (!setup.supported) throw new CliError(`source "${name}" (${setup.connector}) takes no webhooks: the ${setup.connector} connector has no webhook support`);
      const host = o.host === "0.0.0.0" || o.host === "::" ? "localhost" : o.host.includes(":") ? `[${o.host}]` : o.host;
      console.log(`Webhook URL for source "${name}" (${setup.connector}), served by mako serve:`);
      console.log(`  http://${host}:${o.port}${setup.path}`);
      console.log(`  The vendor must reach it: behind a reverse proxy or a tunnel, register https://YOUR-PUBLIC-HOST${setup.path} instead.`);
      console.log(`\n${setup.setup}`);
      console.log(`\nEvents to subscribe to (${setup.subscribe!.length}):`);
      for (const line of columns(setup.subscribe!)) console.log(`  ${line}`);
      console.log(
        `\nSigning secret (${setup.secretField}): ${setup.secretSet ? "set" : `NOT SET — deliveries are refused until it is (set ${setup.secretField} in the source's config)`}`,
      );
      console.log(`Last verified event: ${setup.lastEventAt ?? "none yet"}${setup.pending ? ` (${setup.pending} waiting to be applied)` : ""}`);
    });
}

/** Event names grouped by object (`customer.created, customer.updated, …`), wrapped at 100 columns. */
function columns(names: string[]): string[] {
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const object = n.slice(0, n.lastIndexOf("."));
    groups.set(object, [...(groups.get(object) ?? []), n]);
  }
  const lines: string[] = [];
  for (const group of groups.values()) {
    let line = "";
    for (const n of group) {
      if (line && line.length + n.length + 2 > 98) {
        lines.push(`${line},`);
        line = `  ${n}`;
      } else line = line ? `${line}, ${n}` : n;
    }
    lines.push(line);
  }
  return lines;
}
