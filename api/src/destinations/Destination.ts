import type { DataRecord, FetchState, Since } from "../connectors/base/types";

/** Where an entity's rows live: a namespace per data source, a table per entity. */
export interface TableRef {
  /** The data source's name. */
  namespace: string;
  entity: string;
}

/**
 * The engine's bookmark for one entity, stored by the destination in the same transaction
 * as the rows it describes. `fetchState === null` means the last pass completed.
 */
export interface EntityCheckpoint {
  /** The run that wrote this checkpoint. */
  runId: string;
  /** 1, 2, 3… for the chunks of one pass; 0 for the completed-pass record. */
  seq: number;
  mode: "incremental" | "full_refresh";
  /** The mark this pass was started with (kept so a resumed pass uses the same one). */
  since: Since | null;
  /** ISO time the pass began; a full refresh marks rows not synced since then as deleted. */
  passStartedAt: string;
  /** Where to resume; null once the pass completed. */
  fetchState: FetchState | null;
  /** Highest cursor value committed during this pass. */
  maxCursor: Since | null;
  /** The mark of the last completed pass: the next incremental pass starts from it. */
  highWaterMark: Since | null;
  /** Records committed in this pass so far. */
  records: number;
}

export interface ChunkWrite {
  table: TableRef;
  primaryKey: string[];
  /** Deduplicated on the primary key (last wins). A record with `_mako_deleted_at` set is a soft delete. */
  records: DataRecord[];
  checkpoint: EntityCheckpoint;
  /** ISO timestamp written to `_mako_synced_at`. */
  syncedAt: string;
  /** The writer's fence (see stateRow.ts): the commit is refused when the entity was taken with a higher one. */
  fence?: number;
}

export interface EntityCompletion {
  table: TableRef;
  primaryKey: string[];
  /** The checkpoint with `fetchState: null` and the new `highWaterMark`. */
  checkpoint: EntityCheckpoint;
  /** Full refresh: mark live rows whose `_mako_synced_at` is before this ISO time as deleted. */
  markUnseenDeletedBefore?: string;
  deletedAt: string;
  /** As in ChunkWrite. */
  fence?: number;
  /** Full refresh: changes received during the pass, applied under the guard right after the swap, in the same transaction where the database allows. */
  changes?: DataRecord[];
}

/** Changes from outside a pass (webhooks), applied in one transaction; checkpoints untouched. */
export interface ChangeWrite {
  table: TableRef;
  primaryKey: string[];
  /** Each record carries `_mako_version` (a number). A deletion carries `_mako_deleted_at` and is
   *  branded with markDeleted (connectors/base/deletions.ts). Records sharing a key: the highest version wins. */
  records: DataRecord[];
  /** ISO timestamp written to `_mako_synced_at` of the rows written. */
  syncedAt: string;
  fence?: number;
}

export interface ColumnInfo {
  name: string;
  type: string;
}

export interface TableInfo {
  entity: string;
  /** The physical table name, as users query it. */
  table: string;
  rows: number;
  columns: ColumnInfo[];
}

/**
 * A database that receives synced rows. Each `writeChunk` is one transaction holding the
 * rows and the checkpoint: that is what makes a sync exactly-once in effect.
 */
export interface Destination {
  readonly kind: string;
  /**
   * Chunks of one entity the engine may have in flight at once. With more than one, the
   * destination must return from `loadCheckpoint` only a checkpoint whose every earlier chunk
   * of the same pass committed too (re-fetched chunks are harmless: writes are upserts).
   */
  readonly writeConcurrency: number;
  loadCheckpoint(table: TableRef): Promise<EntityCheckpoint | null>;
  writeChunk(write: ChunkWrite): Promise<void>;
  completeEntity(completion: EntityCompletion): Promise<{ deleted: number }>;
  /** Applies changes under the version guard: a row is replaced (or marked deleted) only when the incoming version is not older than the stored one. */
  applyChanges(write: ChangeWrite): Promise<{ applied: number; skipped: number }>;
  /**
   * A writer takes the entity with this fence (a worker's lease's): commits carrying a lower one
   * are refused from now on. Refused itself (StaleFenceError) when a higher one is stored.
   */
  raiseFence(table: TableRef, fence: number): Promise<void>;
  /** Forgets an entity's checkpoint (used when a pass must restart from scratch). */
  resetCheckpoint(table: TableRef): Promise<void>;
  /**
   * Before an entity's pass: whether its table is as Mako's records describe it. When it is gone,
   * or lost a column Mako made, the records and the checkpoint (the mark with it) are forgotten —
   * a misshapen table is kept aside under a name the answer gives — so the pass reloads the
   * entity in full. Says what was found; null when the table is as recorded (or none is).
   */
  verifyTable(table: TableRef): Promise<string | null>;
  listTables(namespace: string): Promise<TableInfo[]>;
  /** What a data source left here: its tables (shadows and tables kept aside included) and the entities with a checkpoint. */
  namespaceContents(namespace: string): Promise<{ tables: string[]; checkpoints: string[] }>;
  /** Drops a data source's tables, Mako's records of them and its checkpoints (a schema of its own too, once empty). */
  dropNamespace(namespace: string): Promise<void>;
  readRows(table: TableRef, options: { limit: number; offset: number }): Promise<DataRecord[]>;
  /** A cheap query proving the destination is reachable. */
  test(): Promise<void>;
  close(): Promise<void>;
}

/** System columns every destination adds to every table. */
export const SYNCED_AT = "_mako_synced_at";
export const DELETED_AT = "_mako_deleted_at";
/** System column: orders writes of one row — microseconds since the Unix epoch (an integer). */
export const VERSION = "_mako_version";
