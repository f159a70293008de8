// A worker outlives a database restart: a destination call that failed because the server dropped
// or refused the connection is made again, on a new connection, until the server is back. That is
// safe because every write is idempotent: rows are upserts, the checkpoint only advances (a chunk
// committed twice is a replay, see chunkCheckpoints.ts), and the fence is checked each time.

import type { Destination } from "../destinations/Destination";
import { sleep } from "../sync/backoff";

/** admin_shutdown, crash_shutdown, cannot_connect_now, connection_exception and its kinds, and the sockets' own. */
const LOST_CODES = new Set(["57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006", "ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "PROTOCOL_CONNECTION_LOST"]);

/** Whether an error is a connection the database dropped or refused, rather than a statement it refused. */
export function lostConnection(err: unknown): boolean {
  for (let e = err as { code?: string; message?: string; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === "string" && LOST_CODES.has(e.code)) return true;
    if (typeof e.message === "string" && /Connection terminated|Client has encountered a connection error|connection is closed/i.test(e.message)) return true;
  }
  return false;
}

const MAX_WAIT_MS = 5000;

/**
 * The destination, its reads and writes tried again after a lost connection for up to
 * `patienceMs`, and not at all once `stop` is aborted (the entity is no longer this worker's).
 */
export function reconnecting(destination: Destination, options: { patienceMs: number; stop: AbortSignal; onRetry: (err: Error) => void }): Destination {
  const again = async <T>(call: () => Promise<T>): Promise<T> => {
    const deadline = Date.now() + options.patienceMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!lostConnection(err) || options.stop.aborted || Date.now() > deadline) throw err;
        options.onRetry(err);
        await sleep(Math.min(MAX_WAIT_MS, 250 * 2 ** attempt), options.stop).catch(() => {});
        if (options.stop.aborted) throw err;
      }
    }
  };
  return {
    kind: destination.kind,
    writeConcurrency: destination.writeConcurrency,
    loadCheckpoint: (table) => again(() => destination.loadCheckpoint(table)),
    writeChunk: (write) => again(() => destination.writeChunk(write)),
    completeEntity: (completion) => again(() => destination.completeEntity(completion)),
    // Safe to redo too: a change re-applied at its own version leaves the row as it was.
    applyChanges: (write) => again(() => destination.applyChanges(write)),
    raiseFence: (table, fence) => again(() => destination.raiseFence(table, fence)),
    resetCheckpoint: (table) => destination.resetCheckpoint(table),
    verifyTable: (table) => again(() => destination.verifyTable(table)),
    namespaceContents: (namespace) => destination.namespaceContents(namespace),
    dropNamespace: (namespace) => destination.dropNamespace(namespace),
    listTables: (namespace) => destination.listTables(namespace),
    readRows: (table, options) => destination.readRows(table, options),
    test: () => destination.test(),
    close: () => destination.close(),
  };
}
