import { isAbsolute, resolve } from "node:path";
import type { Destination } from "./Destination";
import { destinationKinds, isFileKind, openDestination, type DestinationKind } from "./factory";

/** Opens a named destination from its stored record; relative file paths are under MAKO_HOME. */
export async function openDestinationFor(record: { name: string; kind: string; url: string }, home: string): Promise<Destination> {
  if (!isDestinationKind(record.kind)) {
    throw new Error(`destination "${record.name}": unknown type "${record.kind}"; expected one of ${destinationKinds.join(", ")}`);
  }
  const url = isFileKind(record.kind) && !isAbsolute(record.url) ? resolve(home, record.url) : record.url;
  try {
    return await openDestination({ kind: record.kind, url });
  } catch (err) {
    throw new Error(`destination "${record.name}" (${record.kind}): ${err.message}`);
  }
}

export function isDestinationKind(kind: string): kind is DestinationKind {
  return (destinationKinds as readonly string[]).includes(kind);
}
