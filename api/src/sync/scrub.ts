import type { SecretRedactor } from "../connectors/base/http/SecretRedactor";
import type { EntityResult, RunResult, SyncEvent } from "./events";

// Whatever a connector or a source API lets slip, a source's secrets never reach a run's record,
// its logs or a listener: its events and results pass through the source's redactor.

export function scrubEvent(event: SyncEvent, redactor: SecretRedactor): SyncEvent {
  if (event.type === "log") return { ...event, message: redactor.text(event.message) };
  if (event.type === "entity_finished") return { ...event, result: scrubEntity(event.result, redactor) };
  return event;
}

export function scrubEntity(result: EntityResult, redactor: SecretRedactor): EntityResult {
  return result.error === undefined ? result : { ...result, error: redactor.text(result.error) };
}

export function scrubResult(result: RunResult, redactor: SecretRedactor): RunResult {
  return {
    ...result,
    entities: result.entities.map((e) => scrubEntity(e, redactor)),
    ...(result.error === undefined ? {} : { error: redactor.text(result.error) }),
  };
}
