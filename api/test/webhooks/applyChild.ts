// A process applying one entity's pending webhook events with the real applyPending, which stops
// dead between a batch's commit and marking its events applied (for a SIGKILL there).
// Usage: node --import tsx applyChild.ts MAKO_HOME SOURCE ENTITY
// Prints {"applied":[event ids]} once the batch is committed, then waits to be killed.
import { Mako } from "../../src/Mako";
import { applyPending } from "../../src/webhooks/apply";

const [home, source, entity] = process.argv.slice(2);
if (!home || !source || !entity) {
  process.stderr.write("usage: applyChild.ts MAKO_HOME SOURCE ENTITY\n");
  process.exit(2);
}
const mako = await Mako.open({ home });
await applyPending(mako, source, entity, {
  afterApply: async (events) => {
    process.stdout.write(`${JSON.stringify({ applied: events.map((e) => e.eventId) })}\n`);
    await new Promise(() => {}); // the parent kills this process here
  },
});
process.stdout.write(`${JSON.stringify({ unexpected: "the batch was marked applied" })}\n`);
