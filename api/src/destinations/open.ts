import { isAbsolute, resolve } from "node:path";
import type { Destination } from "./Destination";
import { SqliteDestination } from "./sqlite/SqliteDestination";

/** Opens a named destination from its stored record; relative SQLite paths are under MAKO_HOME. */
export async function openDestinationFor(record: { name: string; kind: string; url: string }, home: string): Promise<Destination> {
  switch (record.kind) {
    case "sqlite":
      return SqliteDestination.open(isAbsolute(record.url) ? record.url : resolve(home, record.url));
    default:
      throw new Error(`destination "${record.name}": unknown kind "${record.kind}"`);
  }
}
