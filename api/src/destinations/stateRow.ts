// Every commit of an entity's checkpoint, chunk or completion, passes here, inside the
// transaction that holds its rows: the state row is read under its lock, then written back.

import { advance, parsePending } from "./chunkCheckpoints";
import { parseCheckpoint } from "./checkpointCodec";
import type { EntityCheckpoint, TableRef } from "./Destination";
import type { StateStore, StoredState } from "./dialect";
import { type Step, io } from "./step";

/** A chunk's checkpoint: the state row advances past it (see chunkCheckpoints.ts). */
export function* commitChunk<C>(state: StateStore<C>, conn: C, ref: TableRef, checkpoint: EntityCheckpoint, at: string): Step<void> {
  const stored = yield* lockedRow(state, conn, ref);
  const next = state.keepsPending
    ? advance({ checkpoint: readCheckpoint(stored.checkpoint, ref), pending: parsePending(stored.pending) }, checkpoint)
    : { checkpoint, pending: null };
  yield* io(
    state.save(conn, ref, { checkpoint: next.checkpoint && JSON.stringify(next.checkpoint), pending: next.pending && JSON.stringify(next.pending) }, at),
  );
}

/** A completed pass's checkpoint: it replaces the row, and no chunk is pending any more. */
export function* commitCompletion<C>(state: StateStore<C>, conn: C, ref: TableRef, checkpoint: EntityCheckpoint, at: string): Step<void> {
  yield* lockedRow(state, conn, ref);
  yield* io(state.save(conn, ref, { checkpoint: JSON.stringify(checkpoint), pending: null }, at));
}

/** The state row, locked until the transaction ends: what a commit may check before it writes. */
function* lockedRow<C>(state: StateStore<C>, conn: C, ref: TableRef): Step<StoredState> {
  return yield* io(state.lock(conn, ref));
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
