// What a source's name leaves in destinations: its tables and checkpoints. Removing a source
// says what becomes of them (dropped everywhere the source wrote, or kept); adding a name whose
// data remains says so, and continues from it or deletes it only when told.
import type { Destination } from "./destinations/Destination";
import { ConflictError } from "./store/MetadataStore";

/** What removing a source does with its synced data. */
export type RemovedData = "drop" | "keep";
/** What adding a name does with the data an earlier source of that name left. */
export type ExistingData = "adopt" | "drop";

/** A destination by name (null: the default database), and how a message names it. */
export interface Target {
  name: string | null;
  open(): Promise<Destination>;
  /** Closes what `open` opened (the default database stays open). */
  close(destination: Destination): Promise<void>;
}

export const targetLabel = (name: string | null) => (name === null ? "the default database" : `destination "${name}"`);

/** Data of an earlier source of this name, where a new one would write (409, field `data`). */
export class ExistingDataError extends ConflictError {
  readonly field = "data";
}

/**
 * Before a name is added: what an earlier source of that name left where this one would write.
 * Refused (ExistingDataError) unless `choice` says what to do; "drop" deletes it (only once the
 * caller is otherwise ready to store the source: call the returned function then).
 */
export async function checkLeftovers(source: string, target: Target, choice: ExistingData | undefined): Promise<() => Promise<void>> {
  let destination: Destination;
  try {
    destination = await target.open();
  } catch (err) {
    throw new Error(`cannot look for data an earlier source "${source}" left in ${targetLabel(target.name)}: ${err.message}; nothing was stored`);
  }
  try {
    const { tables, checkpoints } = await destination.namespaceContents(source);
    if (tables.length === 0 && checkpoints.length === 0) return async () => {};
    if (choice === "adopt") return async () => {};
    if (choice === "drop") return () => withOpen(target, (d) => d.dropNamespace(source));
    const what = [tables.length ? `tables ${tables.join(", ")}` : "", checkpoints.length ? `checkpoints of ${checkpoints.join(", ")}` : ""].filter(Boolean);
    throw new ExistingDataError(
      `an earlier source "${source}" left data in ${targetLabel(target.name)} (${what.join("; ")}): ` +
        `adopt it to continue from it (--adopt-data), or drop it to start clean (--drop-data)`,
    );
  } finally {
    await target.close(destination);
  }
}

/**
 * Drops a removed source's tables and checkpoints from every destination it wrote to. All are
 * opened first, so an unreachable one refuses the removal before anything is dropped; `remove`
 * runs between the opening and the dropping (it refuses a source that is syncing).
 */
/** Says where there was data to drop. */
export async function dropEverywhere(source: string, targets: Target[], remove: () => Promise<void>): Promise<string[]> {
  const opened: Array<{ target: Target; destination: Destination }> = [];
  try {
    for (const target of targets) {
      try {
        opened.push({ target, destination: await target.open() });
      } catch (err) {
        throw new Error(`cannot drop the data of "${source}" in ${targetLabel(target.name)}: ${err.message}; nothing was removed`);
      }
    }
    await remove();
    const dropped: string[] = [];
    for (const { target, destination } of opened) {
      try {
        const { tables, checkpoints } = await destination.namespaceContents(source);
        if (tables.length === 0 && checkpoints.length === 0) continue;
        await destination.dropNamespace(source);
        dropped.push(targetLabel(target.name));
      } catch (err) {
        throw new Error(
          `removed source "${source}", but its data in ${targetLabel(target.name)} could not be dropped (${err.message}); ` +
            `adding the name again with --drop-data deletes it`,
        );
      }
    }
    return dropped;
  } finally {
    for (const { target, destination } of opened) await target.close(destination);
  }
}

async function withOpen<T>(target: Target, use: (d: Destination) => Promise<T>): Promise<T> {
  const destination = await target.open();
  try {
    return await use(destination);
  } finally {
    await target.close(destination);
  }
}
