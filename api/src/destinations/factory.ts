import type { Destination } from "./Destination";
import { DuckdbDestination } from "./duckdb/DuckdbDestination";
import { MysqlDestination } from "./mysql/MysqlDestination";
import { PostgresDestination } from "./postgres/PostgresDestination";
import { SqliteDestination } from "./sqlite/SqliteDestination";

export const destinationKinds = ["sqlite", "postgres", "mysql", "duckdb"] as const;
export type DestinationKind = (typeof destinationKinds)[number];

export interface DestinationSpec {
  kind: DestinationKind;
  /** sqlite and duckdb: a file path; postgres: postgres://…; mysql: mysql://…/database. */
  url: string;
}

/** Opens (and creates where needed) the destination a spec names. */
export async function openDestination(spec: DestinationSpec): Promise<Destination> {
  switch (spec.kind) {
    case "sqlite":
      return SqliteDestination.open(spec.url);
    case "postgres":
      return PostgresDestination.open(spec.url);
    case "mysql":
      return MysqlDestination.open(spec.url);
    case "duckdb":
      return DuckdbDestination.open(spec.url);
    default:
      throw new Error(`unknown destination type "${(spec as { kind: string }).kind}"; expected one of ${destinationKinds.join(", ")}`);
  }
}
