import { HttpError } from "./HttpError";

/**
 * What `testConnection` says when its call fails: rejected credentials and unreachable hosts
 * in the words a user looks for, anything else prefixed with the connector's id.
 */
export function connectionFailureMessage(connectorId: string, err: unknown, baseUrl: string): string {
  if (err instanceof HttpError) {
    if (err.credentialsRejected) return `API key rejected: ${err.message}`;
    if (err.kind === "network" || err.kind === "timeout") return `cannot reach ${new URL(baseUrl).host}: ${err.message}`;
  }
  return `${connectorId}: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * An entity's fetch error, naming connector and entity, keeping the retry hints the engine
 * reads; rejected credentials are not worth a retry.
 */
export function entityFailure(connectorId: string, entity: string, err: unknown, cause?: string): Error {
  const rejected = err instanceof HttpError && err.credentialsRejected;
  const reason = cause ?? (rejected ? `API key rejected (${(err as HttpError).message})` : err instanceof Error ? err.message : String(err));
  const hints = err as { retryable?: boolean; retryAfterMs?: number };
  return Object.assign(new Error(`${connectorId}: entity "${entity}": ${reason}`, { cause: err }), {
    retryable: rejected || cause !== undefined ? false : hints.retryable,
    retryAfterMs: hints.retryAfterMs,
  });
}
