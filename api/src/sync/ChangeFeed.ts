import type { DataRecord, EntityDescriptor } from "../connectors/base/types";
import type { Destination } from "../destinations/Destination";

/**
 * Changes that reach an entity from outside its pulls (a source's webhooks). The sync writing an
 * entity is its only writer while it runs: it applies the pending changes after each chunk's
 * commit, with its fence, and a full refresh re-applies those received during its pass after
 * the swap. The engine knows nothing of where the changes come from.
 */
export interface ChangeFeed {
  /** Applies the entity's pending changes through `destination`, with the writer's fence; how many were applied. */
  applyPending(entity: EntityDescriptor, destination: Destination, fence?: number): Promise<number>;
  /** The rows of every change received since `since` (ISO), applied or not, in the pull's shape with their versions. */
  receivedSince(entity: EntityDescriptor, since: string): Promise<DataRecord[]>;
  /** The sync becomes (true) or stops being (false) the entity's writer: changes arriving meanwhile are its to apply. */
  writing?(entity: string, active: boolean): void;
}
