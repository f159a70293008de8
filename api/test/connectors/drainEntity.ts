import type { BaseConnector } from "../../src/connectors/base/BaseConnector";
import type { DataRecord, FetchState, Since } from "../../src/connectors/base/types";

export interface Drained {
  records: DataRecord[];
  chunks: number;
  states: FetchState[];
}

/**
 * Reads one entity to the end, chunk by chunk, passing each state through JSON as the
 * engine's checkpoint store would (so a state that only works in memory fails here).
 */
export async function drainEntity(
  connector: BaseConnector,
  entity: string,
  options: { since?: Since; batchSize?: number; maxIterations?: number; maxChunks?: number } = {},
): Promise<Drained> {
  const records: DataRecord[] = [];
  const states: FetchState[] = [];
  let state: FetchState | undefined;
  for (let chunk = 1; chunk <= (options.maxChunks ?? 500); chunk++) {
    const next = await connector.fetchEntityChunk({
      entity,
      state,
      since: options.since,
      batchSize: options.batchSize ?? 10,
      maxIterations: options.maxIterations ?? 1,
      onBatch: async (batch) => void records.push(...batch),
      onProgress: () => {},
      onLog: () => {},
    });
    state = JSON.parse(JSON.stringify(next)) as FetchState;
    states.push(state);
    if (!state.hasMore) return { records, chunks: chunk, states };
  }
  throw new Error(`${entity}: still hasMore after ${options.maxChunks ?? 500} chunks`);
}
