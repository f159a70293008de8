import type { Destination } from "./Destination";

interface Kind {
  open(url: string): Destination | Promise<Destination>;
  /** The URL is a file path (relative ones are under MAKO_HOME). */
  file?: boolean;
}

/**
 * Every kind of destination: adding one is its folder and one line here. A kind's driver is
 * loaded when a destination of that kind is opened.
 */
const kinds = {
  sqlite: { open: async (url) => (await import("./sqlite/SqliteDestination")).SqliteDestination.open(url), file: true },
  postgres: { open: async (url) => (await import("./postgres/PostgresDestination")).PostgresDestination.open(url) },
  mysql: { open: async (url) => (await import("./mysql/MysqlDestination")).MysqlDestination.open(url) },
  duckdb: { open: async (url) => (await import("./duckdb/DuckdbDestination")).DuckdbDestination.open(url), file: true },
} satisfies Record<string, Kind>;

export type DestinationKind = keyof typeof kinds;
export const destinationKinds = Object.keys(kinds) as DestinationKind[];

export interface DestinationSpec {
  kind: DestinationKind;
  /** sqlite and duckdb: a file path; postgres: postgres://…; mysql: mysql://…/database. */
  url: string;
}

/** Whether the kind's URL is a file path. */
export const isFileKind = (kind: DestinationKind): boolean => (kinds[kind] as Kind).file === true;

/** Opens (and creates where needed) the destination a spec names. */
export async function openDestination(spec: DestinationSpec): Promise<Destination> {
  const kind: Kind | undefined = Object.hasOwn(kinds, spec.kind) ? kinds[spec.kind] : undefined;
  if (!kind) throw new Error(`unknown destination type "${spec.kind}"; expected one of ${destinationKinds.join(", ")}`);
  return kind.open(spec.url);
}
