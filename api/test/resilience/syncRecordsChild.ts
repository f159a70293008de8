// Runs one sync of RecordsApiConnector into a SQLite file, as `mako sync` would, so a test
// can SIGKILL it. Usage: node --import tsx syncRecordsChild.ts DB_PATH CONFIG_JSON SETTINGS_JSON
// Prints one JSON line per change of the request counters ({"stats"}), per commit
// ({"committed"}), and at the end ({"result"}); exits 0 only when the sync succeeded.
import { RecordsApiConnector } from "../../../bench/connectors/RecordsApiConnector";
import { SqliteDestination } from "../../src/destinations/sqlite/SqliteDestination";
import { SyncEngine } from "../../src/sync/SyncEngine";

const [dbPath, configJson, settingsJson] = process.argv.slice(2);
if (!dbPath || !configJson || !settingsJson) {
  process.stderr.write("usage: syncRecordsChild.ts DB_PATH CONFIG_JSON SETTINGS_JSON\n");
  process.exit(2);
}
const settings = JSON.parse(settingsJson);
const destination = SqliteDestination.open(dbPath);
const connector = new RecordsApiConnector({ name: "faulty", connector: "records", config: JSON.parse(configJson), settings });
// Pipes are written synchronously on Linux: a line printed is a line the parent gets, kill or not.
const say = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
let committed = 0;
const result = await new SyncEngine().run({
  runId: `child_${process.pid}`,
  namespace: "faulty",
  connector,
  destination,
  settings,
  onEvent: (event) => {
    if (event.type === "stats") say({ stats: event.stats });
    if (event.type === "progress" && event.committed !== committed) say({ committed: (committed = event.committed) });
    if (event.type === "log" && event.level === "error") process.stderr.write(`${event.message}\n`);
  },
});
say({ result });
await destination.close();
process.exit(result.status === "succeeded" ? 0 : 1);
