// Serves the API of the Mako home given as argv[2] in a process of its own, so a test can
// measure its memory or search its output. Usage: node --import tsx serveChild.ts HOME
// Prints one JSON line {"url", "pid"} once listening; stops on SIGTERM.
import { Mako } from "../../src/Mako";
import { startServer } from "../../src/server";

const home = process.argv[2];
if (!home) {
  process.stderr.write("usage: serveChild.ts HOME\n");
  process.exit(2);
}
const mako = await Mako.open({ home });
const server = await startServer({ mako, port: 0, uiDir: false, log: (line) => process.stdout.write(`${line}\n`) });
process.stdout.write(`${JSON.stringify({ url: server.url, pid: process.pid })}\n`);
process.once("SIGTERM", async () => {
  await server.close();
  await mako.close();
  process.exit(0);
});
