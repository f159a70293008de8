// Every commit of an entity's checkpoint, chunk or completion, passes here, inside the
// transaction that holds its rows: the state row is read under its lock, then written back.
//
// The row also keeps the entity's fence: the number a worker took the entity with (its lease's,
// see api/src/cluster/). Taking an entity raises it; a commit carrying a lower fence than the
// stored one comes from a writer that lost the entity (paused, then woken after another took
// over) and is refused under the same lock, so its rows roll back with it. A commit without a
// fence (SQLite mode, a plain `mako sync`) is not checked and keeps the stored one.

import { advance, parsePending } from "./chunkCheckpoints";
import { parseCheckpoint } from "./checkpointCodec";
import type { EntityCheckpoint, TableRef } from "./Destination";
import type { StateStore, StoredState } from "./dialect";
import { type Step, io } from "./step";

/** A commit by a writer whose entity was taken over: refused, rolled back, never worth retrying. */
export class StaleFenceError extends Error {
  readonly retryable = false;
  constructor(ref: TableRef, readonly fence: number, readonly stored: number) {
    super(
      `${ref.namespace}.${ref.entity} was taken over by another worker (fence ${stored}; this writer's is ${fence}): ` +
        `this writer's commit was refused and rolled back`,
    );
  }
}

/** A chunk's checkpoint: the state row advances past it (see chunkCheckpoints.ts). */
export function* commitChunk<C>(state: StateStore<C>, conn: C, ref: TableRef, checkpoint: EntityCheckpoint, at: string, fence?: number): Step<void> {
  const stored = yield* lockedRow(state, conn, ref, fence);
  const next = state.keepsPending
    ? advance({ checkpoint: readCheckpoint(stored.checkpoint, ref), pending: parsePending(stored.pending) }, checkpoint)
    : { checkpoint, pending: null };
  yield* io(
    state.save(
      conn,
      ref,
      { checkpoint: next.checkpoint && JSON.stringify(next.checkpoint), pending: next.pending && JSON.stringify(next.pending), fence: fence ?? stored.fence },
      at,
    ),
  );
}

/** A completed pass's checkpoint: it replaces the row, and no chunk is pending any more. */
export function* commitCompletion<C>(state: StateStore<C>, conn: C, ref: TableRef, checkpoint: EntityCheckpoint, at: string, fence?: number): Step<void> {
  const stored = yield* lockedRow(state, conn, ref, fence);
  yield* io(state.save(conn, ref, { checkpoint: JSON.stringify(checkpoint), pending: null, fence: fence ?? stored.fence }, at));
}

/** Changes written outside a pass (applyChanges): refused like a chunk when the writer's fence is behind; the checkpoint stays as it is. */
export function* checkFence<C>(state: StateStore<C>, conn: C, ref: TableRef, fence: number): Step<void> {
  yield* lockedRow(state, conn, ref, fence);
}

/** A writer takes the entity: from now on, commits with a lower fence are refused. */
export function* raiseFence<C>(state: StateStore<C>, conn: C, ref: TableRef, fence: number, at: string): Step<void> {
  const stored = yield* lockedRow(state, conn, ref, fence);
  yield* io(state.save(conn, ref, { ...stored, fence }, at));
}

/** The state row, locked until the transaction ends; a writer whose fence is behind the stored one is refused. */
function* lockedRow<C>(state: StateStore<C>, conn: C, ref: TableRef, fence: number | undefined): Step<StoredState> {
  const stored = yield* io(state.lock(conn, ref));
  if (fence !== undefined && stored.fence !== null && stored.fence > fence) throw new StaleFenceError(ref, fence, stored.fence);
  return stored;
}

/** A stored checkpoint, or null where it cannot be read (the one being committed replaces it). */
export function readCheckpoint(text: string | null | undefined, ref: TableRef): EntityCheckpoint | null {
  if (!text) return null;
  try {
    return parseCheckpoint(text, ref);
  } catch {
    return null;
  }
}
