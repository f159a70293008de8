// The shapes the HTTP API returns (api/src/server/ is the other side of this contract).

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  /** Set on fields the connector marks secret: write-only, shown as a password input. */
  secret?: boolean;
}

export interface EntityInfo {
  name: string;
  primaryKey: string[];
  cursorField?: string;
  incremental: boolean;
  description?: string;
}

export interface ConnectorInfo {
  id: string;
  name: string;
  version: string;
  description: string;
  entities: EntityInfo[];
  configSchema: JsonSchema;
  iconUrl: string;
}

export interface SourceInfo {
  name: string;
  connector: string;
  /** Config without its secret fields. */
  config: Record<string, unknown>;
  /** Every secret field of the connector: whether a value is stored. */
  secrets: Record<string, "set" | "unset">;
  settings: Record<string, unknown>;
  /** The entities a sync reads; null = all of the connector's. */
  entities: string[] | null;
  /** Every entity the source can sync (a REST or GraphQL source's come from its config). */
  availableEntities: EntityInfo[];
  createdAt?: string;
  updatedAt?: string;
  lastRun?: RunInfo | null;
}

export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface EntityRunInfo {
  entity: string;
  status: RunStatus | "pending" | "interrupted";
  records: number;
  durationMs?: number;
  recordsPerSecond?: number;
  /** Request and chunk retries while the entity ran. */
  retries: number;
  error?: string;
}

export interface RunInfo {
  id: string;
  source: string;
  status: RunStatus;
  /** "schedule" when the source's schedule started it. */
  trigger?: "manual" | "schedule";
  fullRefresh: boolean;
  startedAt: string;
  finishedAt?: string | null;
  durationMs?: number | null;
  records: number;
  entities: EntityRunInfo[];
  error?: string | null;
}

export interface LogLine {
  at: string;
  level: "debug" | "info" | "warn" | "error";
  message: string;
  entity?: string;
}

export interface TableInfo {
  entity: string;
  table: string;
  rows: number;
  columns: { name: string; type: string }[];
}

export interface RowsPage {
  columns: string[];
  rows: Record<string, unknown>[];
  total: number;
  limit: number;
  offset: number;
}

export type WaitReason = "rate_limit" | "network_error" | "timeout" | "server_error";

/** Server-Sent Events of GET /api/runs/:id/events. */
export interface ProgressEvent {
  entity: string;
  /** Fetched so far. */
  records: number;
  /** Written to the database so far (what the data preview can show). */
  committed?: number;
  total?: number;
  recordsPerSecond: number;
  retries: number;
  rateLimited: number;
  /** True while the entity waits: on the source's rate limit, or before a retry. */
  waiting: boolean;
  /** What it waits on, while `waiting`. */
  waitingOn?: WaitReason;
  status: EntityRunInfo["status"];
}

export interface TestResult {
  success: boolean;
  message: string;
}

/** GET /api/sources/:name/webhook */
export interface WebhookSetup {
  source: string;
  connector: string;
  supported: boolean;
  url: string;
  secretField?: string;
  secretSet?: boolean;
  subscribe?: string[];
  setup?: string;
  lastEventAt?: string | null;
  pending?: number;
}

/** GET/PUT /api/sources/:name/schedule */
export interface ScheduleInfo {
  source: string;
  cron: string;
  /** IANA zone the cron is read in. */
  timezone: string;
  misfire: "coalesce" | "skip";
  paused: boolean;
  nextFireAt: string | null;
  /** The next three slots (UTC ISO); none while paused. */
  nextFireTimes: string[];
  lastFireAt: string | null;
  lastRunId: string | null;
  lastError: string | null;
  /** A fire waits for the running sync to end. */
  pending: boolean;
  /** Fires folded into a waiting one while the source was busy. */
  coalesced: number;
  /** Slots missed past the grace period and not fired (misfire "skip"). */
  skipped: number;
}
