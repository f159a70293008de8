import { Command, CommanderError } from "commander";
import type { Mako } from "../Mako";
import { ConflictError, NotFoundError } from "../store/MetadataStore";
import { fmt, CliError, withNoTestHint, workedBy } from "./output";
import { readConfig } from "./parseJson";
import { syncCommand } from "./syncCommand";
import { startCommand } from "./startCommand";
import { registerExtraCommands } from "./extraCommands";
import { registerWebhookCommand } from "./webhookCommand";
import { registerScheduleCommand } from "./scheduleCommand";

// `mako runs | head` closes the pipe early: that is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

// Mako (the engine, every connector, the store) is loaded by the commands that use it, not by
// `--help`: start-up time is what a user waits for on every command.
let opened: Mako | undefined;
const mako = async () => (opened ??= await (await import("../Mako")).Mako.open());

const program = new Command()
  .name("mako")
  .description("Sync data from SaaS and REST/GraphQL APIs into a database you query with SQL.\nData and metadata live in $MAKO_HOME/mako.db (MAKO_HOME defaults to ./.mako),\nor with DATABASE_URL=postgres://… in that PostgreSQL database (metadata in schema mako).")
  .version("0.1.0")
  .showHelpAfterError()
  .exitOverride();

const collect = (value: string, previous: string[] = []) => [...previous, value];

// --- connectors ---------------------------------------------------------------------------
const connectors = program.command("connectors").description("list the registered connectors and their entities");
connectors.action(async () => {
  for (const c of (await mako()).connectors.list()) {
    const entities = c.entities.map((e) => (e.incremental ? e.name : `${e.name} (full only)`)).join(", ");
    console.log(`${c.id.padEnd(10)} ${c.name} ${c.version} — ${c.description}\n${"".padEnd(10)} entities: ${entities}`);
  }
});

connectors
  .command("show <id>")
  .description("print a connector's config fields (type, required, secret, default, description) and its entities")
  .action(async (id: string) => {
    const { connectorDetails } = await import("./connectorDetails");
    for (const line of connectorDetails((await mako()).connectors.get(id))) console.log(line);
  });

connectors
  .command("check <id>")
  .description("run the conformance kit on a connector: crash/resume, idempotency, incremental, credentials")
  .option("--config-json <json>", "a working config for the connector")
  .option("--config-file <path>", "a working config in a JSON or YAML file")
  .option("--bad-config-json <json>", "a config with wrong credentials (testConnection must fail)")
  .option("--entity <entity>", "check only this entity (repeatable)", collect)
  .option("--settings-json <json>", "sync settings for the check, e.g. small batches")
  .action(async (id: string, o) => {
    const m = await mako();
    const info = m.connectors.get(id);
    const { connectorRegistry } = await import("../connectors/registry");
    const { checkConnector } = await import("../conformance");
    const config = m.connectors.validateConfig(id, await readConfig(o));
    const badConfig = o.badConfigJson ? ((await readConfig({ configJson: o.badConfigJson }, "bad-config")) as Record<string, unknown>) : undefined;
    const settings = o.settingsJson ? ((await readConfig({ configJson: o.settingsJson }, "settings")) as Record<string, unknown>) : undefined;
    console.log(`checking ${info.name} ${info.version}…`);
    const report = await checkConnector({ connector: connectorRegistry[id], config, badConfig, entities: o.entity, settings });
    for (const c of report.checks) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
    if (!report.ok) throw new CliError(`conformance failed: ${report.firstFailure}`);
    console.log("conformance: all checks passed");
  });

// --- sources ------------------------------------------------------------------------------
const sources = program.command("sources").description("manage data sources (connector + config; secrets encrypted at rest)");
sources
  .command("add <name>")
  .description("store a data source after validating its config")
  .requiredOption("--connector <id>", "connector id (see: npx mako connectors)")
  .option("--config-json <json>", "the connector's config as JSON")
  .option("--config-file <path>", "the connector's config in a JSON or YAML file")
  .option("--settings-json <json>", 'sync settings, e.g. {"batchSize":500,"requestsPerSecond":5}')
  .option("--destination <name>", "default destination for this source (see: npx mako destinations list)")
  .option("--entity <entity>", "sync only this entity unless told otherwise (repeatable; default: all)", collect)
  .option("--no-test", "store it without testing the connection first")
  .option("--adopt-data", "tables and checkpoints an earlier source of this name left: continue from them")
  .option("--drop-data", "tables and checkpoints an earlier source of this name left: delete them first")
  .action(async (name: string, o) => {
    if (o.adoptData && o.dropData) throw new CliError("--adopt-data and --drop-data contradict each other: give one");
    const config = await readConfig(o);
    const settings = o.settingsJson ? ((await readConfig({ configJson: o.settingsJson }, "settings")) as Record<string, unknown>) : {};
    const m = await mako();
    const data = o.adoptData ? "adopt" : o.dropData ? "drop" : undefined;
    const added = await withNoTestHint(m.sources.add({ name, connector: o.connector, config, settings, destination: o.destination, entities: o.entity, test: o.test, data }));
    console.log(`added source "${added.name}" (${added.connector})${o.test ? ", connection tested" : ""}; sync it with: npx mako sync ${added.name}`);
  });
sources
  .command("update <name>")
  .description("change a source's config, settings, default destination or entity selection (options left out keep their value; secrets left out are kept, unless where requests go changes)")
  .option("--config-json <json>", "the connector's whole new config as JSON")
  .option("--config-file <path>", "the connector's whole new config in a JSON or YAML file")
  .option("--settings-json <json>", "the new sync settings")
  .option("--destination <name>", 'default destination ("" for the default database)')
  .option("--entity <entity>", "the entities a sync reads unless told otherwise (repeatable; replaces the saved selection)", collect)
  .option("--all-entities", "go back to syncing all of the connector's entities")
  .action(async (name: string, o) => {
    if (o.entity && o.allEntities) throw new CliError("--entity and --all-entities contradict each other: give one");
    const changes: Parameters<Mako["sources"]["update"]>[1] = {};
    if (o.configJson !== undefined || o.configFile !== undefined) changes.config = await readConfig(o);
    if (o.settingsJson !== undefined) changes.settings = (await readConfig({ configJson: o.settingsJson }, "settings")) as Record<string, unknown>;
    if (o.destination !== undefined) changes.destination = o.destination === "" ? null : o.destination;
    if (o.entity || o.allEntities) changes.entities = o.allEntities ? null : o.entity;
    if (Object.keys(changes).length === 0) {
      throw new CliError("nothing to change: give --config-json, --config-file, --settings-json, --destination, --entity or --all-entities");
    }
    const updated = await (await mako()).sources.update(name, changes);
    const selection = "entities" in changes ? `: syncs ${updated.entities ? updated.entities.join(", ") : "all entities"}` : "";
    console.log(`updated source "${updated.name}"${selection}`);
  });
sources
  .command("list")
  .description("list data sources (secrets are never shown)")
  .action(async () => {
    const list = await (await mako()).sources.list();
    if (list.length === 0) console.log("no sources yet: npx mako sources add NAME --connector ID --config-json '{…}'");
    for (const s of list) {
      const only = s.entities ? `  entities: ${s.entities.join(", ")}` : "";
      console.log(`${s.name.padEnd(16)} ${s.connector.padEnd(10)} ${JSON.stringify(s.config)}${s.destination ? ` → ${s.destination}` : ""}${only}`);
    }
  });
sources
  .command("test <name>")
  .description("check that the source's API accepts its config and credentials")
  .action(async (name: string) => {
    const r = await (await mako()).sources.test(name);
    if (!r.success) throw new CliError(`${name}: ${r.message}`);
    console.log(`${name}: ${r.message}`);
  });
sources
  .command("remove <name>")
  .description("forget a data source (refused while it syncs); say what becomes of its synced tables and checkpoints")
  .option("--drop-data", "delete its tables and checkpoints in every destination it wrote to")
  .option("--keep-data", "leave them (adding the name again then asks whether to adopt or drop them)")
  .action(async (name: string, o) => {
    if (o.dropData === o.keepData) {
      throw new CliError(o.dropData ? "--drop-data and --keep-data contradict each other: give one" : `say what becomes of the synced data of "${name}": --drop-data deletes its tables and checkpoints, --keep-data leaves them`);
    }
    const { droppedFrom } = await (await mako()).sources.remove(name, { data: o.dropData ? "drop" : "keep" });
    const data = o.keepData ? "its tables and checkpoints are kept" : droppedFrom.length ? `its tables and checkpoints were dropped from ${droppedFrom.join(", ")}` : "it had no synced data";
    console.log(`removed source "${name}"; ${data}`);
  });

registerWebhookCommand(sources, mako);

// --- sync ---------------------------------------------------------------------------------
program
  .command("sync <name>")
  .description("sync a source's entities; killed at any moment, the same command resumes from the last checkpoint")
  .option("--entity <entity>", "sync only this entity (repeatable; default: the source's saved selection, else all)", collect)
  .option("--full-refresh", "read everything again and mark rows not seen as deleted")
  .option("--destination <name>", "write to this destination instead of the source's default")
  .option("--enqueue", "hand the run to the workers (mako worker; needs DATABASE_URL=postgres://…) and print its id")
  .option("--wait", "with --enqueue: follow the run and exit 0 only when it succeeded")
  .action(async (name: string, o) => {
    if (o.wait && !o.enqueue) throw new CliError("--wait follows a run handed to the workers: give --enqueue too");
    if (o.enqueue) return (await import("./enqueueCommand")).enqueueCommand(mako, name, o);
    return syncCommand(await mako(), name, o);
  });

program
  .command("worker")
  .description(
    "run entity jobs handed to the workers (mako sync --enqueue, schedules), on as many machines as needed; needs DATABASE_URL=postgres://…\n" +
      "SIGTERM or Ctrl-C stops it at the next chunk boundary; an entity whose worker dies is taken over by another from its last checkpoint",
  )
  .option("--concurrency <n>", "entity jobs run at once", "1")
  .action(async (o) => (await import("./workerCommand")).workerCommand(mako, o));

// --- runs ---------------------------------------------------------------------------------
const runs = program
  .command("runs [name]")
  .description("list runs (all, or one source's) with status, counts and errors")
  .option("--limit <n>", "how many runs", "20")
  .action(async (name: string | undefined, o) => {
    const m = await mako();
    const runs = await m.runs.list({ source: name, limit: Number(o.limit) });
    // A removed source keeps its history; a name that never was a source is a typo.
    if (name !== undefined && runs.length === 0) await m.sources.get(name);
    if (runs.length === 0) console.log(name === undefined ? "no runs yet" : `no runs of "${name}" yet: npx mako sync ${name}`);
    for (const r of runs) {
      const records = r.entities.reduce((n, e) => n + e.records, 0);
      const took = r.finishedAt ? `${((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(1)} s` : "…";
      const by = r.trigger === "schedule" ? "  by schedule" : "";
      console.log(`${r.id}  ${r.source.padEnd(14)} ${r.status.padEnd(9)} ${r.startedAt}  ${took.padStart(8)}  ${fmt(records)} records${by}${r.error ? `  error: ${r.error}` : ""}`);
      for (const e of r.entities) console.log(`    ${e.entity.padEnd(18)} ${e.status.padEnd(9)} ${fmt(e.records)} records${workedBy(e)}${e.error ? `  ${e.error}` : ""}`);
    }
  });
runs
  .command("cancel <run-or-source>")
  .description("stop a running sync (of any process) at its next chunk boundary; its checkpoint is kept and the next sync resumes")
  .option("--wait <seconds>", "how long to wait for the run to stop (0: do not wait)", "30")
  .action(async (target: string, o) => {
    const m = await mako();
    const run = await runToCancel(m, target);
    if (!(await m.runs.cancel(run.id))) throw new CliError(`run ${run.id} of "${run.source}" ended before it could be cancelled`);
    console.log(`asked run ${run.id} of "${run.source}" to stop at its next chunk boundary`);
    const deadline = Date.now() + Math.max(0, Number(o.wait) || 0) * 1000;
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const now = await m.runs.get(run.id);
      if (now.status !== "running") {
        console.log(`run ${now.id} ${now.status}; the next sync resumes from its checkpoint: npx mako sync ${now.source}`);
        return;
      }
    }
    if (Number(o.wait) > 0) console.log(`run ${run.id} is still stopping; see: npx mako runs ${run.source}`);
  });

/** A run id, or a source name meaning its running run. */
async function runToCancel(m: Mako, target: string) {
  if (/^run_/.test(target)) {
    const run = await m.runs.get(target);
    if (run.status !== "running") throw new CliError(`run ${run.id} is not running (it ${run.status})`);
    return run;
  }
  const [latest] = await m.runs.list({ source: target, limit: 1 });
  if (!latest) await m.sources.get(target);
  if (latest?.status !== "running") throw new CliError(`source "${target}" is not syncing${latest ? ` (its last run ${latest.status})` : ""}`);
  return latest;
}

program
  .command("logs <run-id>")
  .description("print a run's log")
  .action(async (runId: string) => {
    const m = await mako();
    await m.runs.get(runId);
    for (const l of await m.runs.logs(runId, { limit: 100_000 })) {
      console.log(`${l.at} ${l.level.padEnd(5)} ${l.entity ? `${l.entity}: ` : ""}${l.message}`);
    }
  });

// --- start (npm start) ---------------------------------------------------------------------
program
  .command("start")
  .description("quick start: serve the web UI on :3000, add and sync the sample source on first start")
  .option("--count <n>", "users in the sample source when it is created", "10000")
  .option("--port <port>", "port of the web UI and API", "3000")
  .option("--no-serve", "only add and sync the sample source, then exit")
  .option("--allowed-host <name>", "also answer requests addressed to this host name, e.g. a reverse proxy's (repeatable)", collect)
  .action(async (o) =>
    startCommand(await mako(), { count: Number(o.count), serve: o.serve, port: Number(o.port), allowedHosts: o.allowedHost }),
  );

registerExtraCommands(program, mako);
registerScheduleCommand(program, mako);

async function main(): Promise<number> {
  try {
    await program.parseAsync(process.argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version" ? 0 : 2;
    if (err?.code === "SQLITE_BUSY") {
      const { busyTimeoutMs } = await import("../Mako");
      process.stderr.write(`error: ${opened?.home ?? "MAKO_HOME"}/mako.db is locked by another process (waited ${busyTimeoutMs() / 1000} s); try again when it is done\n`);
      return 1;
    }
    // ValidationError (Mako.ts) carries `retryable: false`, like every error meant for the user.
    const known = err instanceof CliError || err instanceof NotFoundError || err instanceof ConflictError || err?.retryable === false;
    process.stderr.write(`error: ${known ? err.message : err?.message ?? String(err)}\n`);
    if (!known && process.env.MAKO_DEBUG) process.stderr.write(`${err?.stack}\n`);
    return err instanceof CliError ? err.exitCode : 1;
  } finally {
    await opened?.close();
  }
}

process.exitCode = await main();
