// One process syncing one entity of a data source through the real engine and HTTP client,
// its limiter drawing on the rate limit shared in PostgreSQL (registered as Mako.open does in
// PostgreSQL mode). Usage: node --import tsx syncEntityChild.ts SPEC_JSON
// Prints {"ready":true} once loaded, starts on a "go" line on stdin, stops at its next chunk
// boundary on SIGTERM, and ends with {"result":…} holding the run's status and counters and the
// reservation log: the start of every slot it was granted, on the database clock.
import { createInterface } from "node:readline";
import { RatedApiConnector } from "../../../bench/connectors/RatedApiConnector";
import { useSharedRateLimits } from "../../src/cluster/sharedRateLimits";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import { SyncEngine } from "../../src/sync/SyncEngine";
import type { SyncProcessSpec } from "./syncProcesses";

const spec: SyncProcessSpec & { dbPath: string } = JSON.parse(process.argv[2] ?? "null");
if (!spec?.databaseUrl || !spec.dbPath) {
  process.stderr.write("usage: syncEntityChild.ts SPEC_JSON\n");
  process.exit(2);
}
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const shared = useSharedRateLimits(spec.databaseUrl);
const destination = SqliteDestination.open(spec.dbPath);
const connector = new RatedApiConnector({ name: spec.source, connector: "rated", config: spec.config, settings: spec.settings });
const slotStarts: number[] = [];
shared.backend.onReservation = (_key, startMs) => slotStarts.push(startMs);
const controller = new AbortController();
process.on("SIGTERM", () => controller.abort(new Error("stopped")));

say({ ready: true });
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line.trim() === "go") break;
lines.close();

const result = await new SyncEngine().run({
  runId: `child_${process.pid}`,
  namespace: spec.source,
  connector,
  destination,
  settings: spec.settings,
  entities: [spec.entity],
  signal: controller.signal,
  onEvent: (event) => {
    if (event.type === "log" && (event.level === "error" || event.level === "warn")) process.stderr.write(`${event.message}\n`);
  },
});
say({ result: { status: result.status, stats: result.stats, slotStarts } });
await destination.close();
await shared.close();
process.exit(0);
