// Ordering of checkpoints when a destination commits several chunks of one entity at once.
// Chunks may commit out of order (chunk 6 before chunk 5); the checkpoint a resumed sync gets
// must be one whose every earlier chunk committed. So the state row keeps the last checkpoint
// of the contiguous committed prefix, plus the checkpoints committed ahead of it ("pending").
// Each writeChunk transaction reads the state row locked, advances it, and writes it back.

import type { EntityCheckpoint } from "./Destination";

export interface PendingChunks {
  /** The pass these chunks belong to (see passKey). */
  pass: string;
  chunks: Record<string, EntityCheckpoint>;
}

export interface ChunkProgress {
  /** What loadCheckpoint returns: every chunk up to its seq (of its pass) committed. */
  checkpoint: EntityCheckpoint | null;
  pending: PendingChunks | null;
}

/** A pass is identified by when it started and how: the runId changes when a pass resumes. */
export function passKey(c: EntityCheckpoint): string {
  return `${c.mode}@${c.passStartedAt}`;
}

/** The progress after one more chunk committed. */
export function advance(stored: ChunkProgress, next: EntityCheckpoint): ChunkProgress {
  const key = passKey(next);
  const current = stored.checkpoint;
  const samePass = current !== null && current.fetchState !== null && passKey(current) === key;
  const base = samePass ? current.seq : 0;
  const chunks: Record<string, EntityCheckpoint> = stored.pending?.pass === key ? { ...stored.pending.chunks } : {};
  if (next.seq <= base) return { checkpoint: current, pending: pendingOf(key, chunks) }; // a replayed chunk
  if (next.seq !== base + 1) {
    chunks[next.seq] = next;
    return { checkpoint: current, pending: pendingOf(key, chunks) };
  }
  let checkpoint = next;
  for (let s = next.seq + 1; chunks[s]; s++) {
    checkpoint = chunks[s];
    delete chunks[s];
  }
  for (const s of Object.keys(chunks)) if (Number(s) <= checkpoint.seq) delete chunks[s];
  return { checkpoint, pending: pendingOf(key, chunks) };
}

function pendingOf(pass: string, chunks: Record<string, EntityCheckpoint>): PendingChunks | null {
  return Object.keys(chunks).length > 0 ? { pass, chunks } : null;
}

export function parsePending(text: string | null): PendingChunks | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as PendingChunks;
    return typeof value?.pass === "string" && value.chunks && typeof value.chunks === "object" ? value : null;
  } catch {
    return null; // unreadable pending chunks only cost a re-fetch of those chunks
  }
}
