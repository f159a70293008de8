import type { ConnectorInfo, LogLine, ProgressEvent, RowsPage, RunInfo, ScheduleInfo, SourceInfo, TableInfo, TestResult, WebhookSetup } from "./types";

/** An API error as the server reports it: `{ error, field? }`. */
export class ApiError extends Error {
  constructor(message: string, readonly status: number, readonly field?: string) {
    // The server shares its messages with the CLI; a "(see: mako …)" hint points nowhere here.
    super(message.replace(/ \(see: mako [^)]*\)/g, ""));
  }
}

const TOKEN_KEY = "mako.apiToken";

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

function headers(extra?: Record<string, string>): Record<string, string> {
  const token = getToken();
  return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

/** Listeners told when the server asks for a token (401), so the app can prompt for one. */
const unauthorizedListeners = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    headers: headers(body === undefined ? undefined : { "content-type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data: unknown = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    if (res.status === 401) unauthorizedListeners.forEach((l) => l());
    const err = (data ?? {}) as { error?: string; field?: string };
    throw new ApiError(err.error ?? `${method} ${path} failed with HTTP ${res.status}`, res.status, err.field);
  }
  return data as T;
}

const enc = encodeURIComponent;

export const api = {
  connectors: () => request<ConnectorInfo[]>("GET", "/api/connectors"),
  sources: () => request<SourceInfo[]>("GET", "/api/sources"),
  source: (name: string) => request<SourceInfo>("GET", `/api/sources/${enc(name)}`),
  /** With `test: true` a failed connection test is a 422 and nothing is stored. */
  /** A 409 with `field: "data"`: an earlier source of this name left data; send `data` to adopt or drop it. */
  addSource: (body: { name: string; connector: string; config: Record<string, unknown>; entities: string[] | null; test: boolean; data?: "adopt" | "drop" }) =>
    request<SourceInfo>("POST", "/api/sources", body),
  updateSource: (name: string, patch: { config?: Record<string, unknown>; settings?: Record<string, unknown>; entities?: string[] | null }) =>
    request<SourceInfo>("PATCH", `/api/sources/${enc(name)}`, patch),
  /** `drop` deletes its tables and checkpoints wherever it synced; `keep` leaves them. */
  removeSource: (name: string, data: "drop" | "keep") =>
    request<{ removed: string; droppedFrom: string[] }>("DELETE", `/api/sources/${enc(name)}?data=${data}`),
  /** Tests a config before it is stored. */
  testConfig: (connector: string, config: Record<string, unknown>) =>
    request<TestResult>("POST", `/api/connectors/${enc(connector)}/test`, { config }),
  testSource: (name: string) => request<TestResult>("POST", `/api/sources/${enc(name)}/test`),
  sync: (name: string, body: { entities?: string[]; fullRefresh?: boolean }) =>
    request<{ runId: string }>("POST", `/api/sources/${enc(name)}/sync`, body),
  runs: (source?: string) => request<RunInfo[]>("GET", `/api/runs${source ? `?source=${enc(source)}` : ""}`),
  run: (id: string) => request<RunInfo & { logs: LogLine[] }>("GET", `/api/runs/${enc(id)}`),
  cancelRun: (id: string) => request<{ cancelled: boolean }>("POST", `/api/runs/${enc(id)}/cancel`),
  tables: (name: string) => request<TableInfo[]>("GET", `/api/sources/${enc(name)}/tables`),
  webhook: (name: string) => request<WebhookSetup>("GET", `/api/sources/${enc(name)}/webhook`),
  /** Null when the source has no schedule. */
  schedule: (name: string) => request<ScheduleInfo | null>("GET", `/api/sources/${enc(name)}/schedule`),
  setSchedule: (name: string, body: { cron: string; timezone: string; misfire: "coalesce" | "skip" }) =>
    request<ScheduleInfo>("PUT", `/api/sources/${enc(name)}/schedule`, body),
  pauseSchedule: (name: string) => request<ScheduleInfo>("POST", `/api/sources/${enc(name)}/schedule/pause`),
  resumeSchedule: (name: string) => request<ScheduleInfo>("POST", `/api/sources/${enc(name)}/schedule/resume`),
  removeSchedule: (name: string) => request<{ removed: string }>("DELETE", `/api/sources/${enc(name)}/schedule`),
  rows: (name: string, entity: string, limit: number, offset: number) =>
    request<RowsPage>("GET", `/api/sources/${enc(name)}/tables/${enc(entity)}/rows?limit=${limit}&offset=${offset}`),
};

export interface RunEventHandlers {
  progress(event: ProgressEvent): void;
  log(line: LogLine): void;
  end(run: RunInfo): void;
  error(message: string): void;
}

/**
 * Follows a run's Server-Sent Events. Read with fetch rather than EventSource so the bearer
 * token travels in a header, never in the URL. Returns a function that stops listening.
 */
export function followRun(id: string, handlers: RunEventHandlers): () => void {
  const controller = new AbortController();
  (async () => {
    const res = await fetch(`/api/runs/${enc(id)}/events`, { headers: headers(), signal: controller.signal });
    if (!res.ok || !res.body) throw new Error(`live progress unavailable (HTTP ${res.status})`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let boundary: number;
      while ((boundary = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        dispatch(block, handlers);
      }
    }
  })().catch((err: Error) => {
    if (!controller.signal.aborted) handlers.error(err.message);
  });
  return () => controller.abort();
}

function dispatch(block: string, handlers: RunEventHandlers): void {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  if (data.length === 0) return;
  const payload: unknown = JSON.parse(data.join("\n"));
  if (event === "progress") handlers.progress(payload as ProgressEvent);
  else if (event === "log") handlers.log(payload as LogLine);
  else if (event === "end") handlers.end(payload as RunInfo);
}
