// Child process of the SIGKILL test: writes (or resumes writing) `chunks` chunks of `perChunk`
// new users through a destination, the way the engine does, printing a line per committed chunk.
// Usage: tsx writeChunksChild.ts KIND URL NAMESPACE PER_CHUNK CHUNKS [full_refresh]
// In full_refresh mode it resumes only an unfinished full refresh and completes the pass at the end.
import type { EntityCheckpoint } from "../../src/destinations/Destination";
import { type DestinationKind, openDestination } from "../../src/destinations/factory";

const [kind, url, namespace, perChunkArg, chunksArg, modeArg] = process.argv.slice(2);
const mode = modeArg === "full_refresh" ? "full_refresh" : "incremental";
const perChunk = Number(perChunkArg);
const chunks = Number(chunksArg);
const table = { namespace, entity: "users" };
const destination = await openDestination({ kind: kind as DestinationKind, url });
const stored = await destination.loadCheckpoint(table);
const saved = mode === "incremental" || (stored?.mode === "full_refresh" && stored.fetchState !== null) ? stored : null;
const passStartedAt = saved?.passStartedAt ?? new Date().toISOString();
const inFlight: Promise<void>[] = [];
for (let seq = (saved?.seq ?? 0) + 1; seq <= chunks; seq++) {
  const records = Array.from({ length: perChunk }, (_, i) => {
    const id = (seq - 1) * perChunk + i + 1;
    return { id, name: `user ${id}`, profile: { seq, tags: ["a", "b"] }, score: id / 3 };
  });
  const checkpoint: EntityCheckpoint = {
    runId: `child-${process.pid}`,
    seq,
    mode,
    since: null,
    passStartedAt,
    fetchState: { hasMore: seq < chunks, offset: seq * perChunk },
    maxCursor: null,
    highWaterMark: null,
    records: seq * perChunk,
  };
  while (inFlight.length >= destination.writeConcurrency) await inFlight.shift();
  const write = destination
    .writeChunk({ table, primaryKey: ["id"], records, checkpoint, syncedAt: new Date().toISOString() })
    .then(() => void process.stdout.write(`committed ${seq}\n`));
  write.catch(() => {});
  inFlight.push(write);
}
for (const write of inFlight) await write;
if (mode === "full_refresh") {
  await destination.completeEntity({
    table,
    primaryKey: ["id"],
    checkpoint: { runId: `child-${process.pid}`, seq: 0, mode, since: null, passStartedAt, fetchState: null, maxCursor: null, highWaterMark: null, records: chunks * perChunk },
    markUnseenDeletedBefore: passStartedAt,
    deletedAt: new Date().toISOString(),
  });
}
await destination.close();
process.stdout.write("done\n");
