import { useSlotSources } from "../connectors/base/http/limiterRegistry";
import { PostgresRateLimits } from "./PostgresRateLimits";

export interface SharedRateLimits {
  readonly backend: PostgresRateLimits;
  /** Unregisters the backend (limiters created later use the in-process bucket) and closes it. */
  close(): Promise<void>;
}

/**
 * Makes every data source of this process draw its slots from PostgreSQL at `url`, shared with
 * every other process doing the same: called by `Mako.open` in PostgreSQL mode (and so by
 * `mako serve`, `mako sync` and workers). Connects lazily, at the first limited request.
 */
export function useSharedRateLimits(url: string): SharedRateLimits {
  const backend = new PostgresRateLimits(url);
  const unregister = useSlotSources((key) => backend.slotSource(key));
  return {
    backend,
    async close() {
      unregister();
      await backend.close();
    },
  };
}
