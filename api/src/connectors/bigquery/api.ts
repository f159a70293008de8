import { HttpError, type HttpClient, type HttpRequest, type VendorError } from "../base/http";
import type { ServiceAccountAuth } from "./auth";
import type { TableField } from "./decode";

// The four calls Mako makes, as https://cloud.google.com/bigquery/docs/reference/rest/v2
// documents them: jobs.query, jobs.getQueryResults, tables.get and tabledata.list.

export interface JobReference {
  projectId: string;
  jobId: string;
  location?: string;
}

export interface FvRow {
  f: { v: unknown }[];
}

/** A jobs.query or jobs.getQueryResults answer; schema and rows only once jobComplete. */
export interface QueryPage {
  jobReference: JobReference;
  jobComplete: boolean;
  schema?: { fields: TableField[] };
  rows?: FvRow[];
  pageToken?: string;
  totalRows?: string;
}

export interface TablePage {
  rows?: FvRow[];
  pageToken?: string;
  totalRows?: string;
}

export interface TableInfo {
  type?: string;
  schema?: { fields?: TableField[] };
}

export interface TableRef {
  projectId: string;
  datasetId: string;
  tableId: string;
}

export interface QueryRequest {
  query: string;
  maxResults: number;
  location?: string;
  queryParameters?: { name: string; parameterType: { type: string }; parameterValue: { value: string } }[];
}

/** How long the server may hold a call open waiting for the job (it answers jobComplete: false after). */
const SERVER_WAIT_MS = 10_000;
/** Error bodies longer than this are not parsed (BigQuery's are a few hundred bytes). */
const MAX_ERROR_BODY = 65_536;

/** Reasons (https://cloud.google.com/bigquery/docs/error-messages) worth a retry whatever the status. */
const RETRYABLE_REASONS = new Set(["rateLimitExceeded", "backendError", "internalError"]);
/** Reasons no retry can fix, even when a proxy wraps them in a 5xx. */
const PERMANENT_REASONS = new Set(["accessDenied", "notFound", "invalidQuery", "invalid", "duplicate", "billingNotEnabled", "quotaExceeded", "responseTooLarge", "resourcesExceeded"]);

/** Google's error body: {"error": {code, message, errors: [{reason, message}], status}}. */
export function readGoogleError(_status: number, body: string): VendorError | undefined {
  if (body.length > MAX_ERROR_BODY) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const error = (parsed as { error?: { message?: unknown; errors?: { reason?: unknown }[] } } | null)?.error;
  if (!error || typeof error !== "object") return undefined;
  const reason = Array.isArray(error.errors) && typeof error.errors[0]?.reason === "string" ? error.errors[0].reason : undefined;
  const message = typeof error.message === "string" ? error.message : undefined;
  return {
    code: reason,
    message: reason && message ? `${reason}: ${message}` : (message ?? reason),
    retryable: reason && RETRYABLE_REASONS.has(reason) ? true : reason && PERMANENT_REASONS.has(reason) ? false : undefined,
  };
}

/** RFC 6749 §5.2: {"error": "invalid_grant", "error_description": "…"}. */
export function readTokenError(_status: number, body: string): VendorError | undefined {
  if (body.length > MAX_ERROR_BODY) return undefined;
  try {
    const { error, error_description } = JSON.parse(body) as { error?: unknown; error_description?: unknown };
    if (typeof error !== "string") return undefined;
    return { code: error, message: typeof error_description === "string" ? `${error}: ${error_description}` : error };
  } catch {
    return undefined;
  }
}

const enc = encodeURIComponent;

/** Calls with the service account's token; a 401 gets one fresh token and one more try. */
export class BigQueryApi {
  constructor(
    private readonly http: HttpClient,
    private readonly auth: ServiceAccountAuth,
  ) {}

  /** jobs.query: starts the job, waits a little, answers with the first page when it is done. */
  query(projectId: string, request: QueryRequest, signal?: AbortSignal): Promise<QueryPage> {
    const body = {
      query: request.query,
      // jobs.query defaults to legacy SQL.
      useLegacySql: false,
      maxResults: request.maxResults,
      timeoutMs: SERVER_WAIT_MS,
      ...(request.location ? { location: request.location } : {}),
      ...(request.queryParameters ? { parameterMode: "NAMED", queryParameters: request.queryParameters } : {}),
      // TIMESTAMP as int64 microseconds, exact, rather than float seconds.
      formatOptions: { useInt64Timestamp: true },
    };
    return this.send<QueryPage>({ method: "POST", path: `projects/${enc(projectId)}/queries`, body, signal }, "jobs.query", queryPageProblem);
  }

  /** jobs.getQueryResults: one page of a finished job, or jobComplete: false. */
  getQueryResults(job: JobReference, page: { pageToken?: string; maxResults: number }, signal?: AbortSignal): Promise<QueryPage> {
    return this.send<QueryPage>(
      {
        method: "GET",
        path: `projects/${enc(job.projectId)}/queries/${enc(job.jobId)}`,
        query: {
          pageToken: page.pageToken,
          maxResults: page.maxResults,
          timeoutMs: SERVER_WAIT_MS,
          location: job.location,
          "formatOptions.useInt64Timestamp": true,
        },
        signal,
      },
      "jobs.getQueryResults",
      queryPageProblem,
    );
  }

  getTable(ref: TableRef, signal?: AbortSignal): Promise<TableInfo> {
    return this.send<TableInfo>({ method: "GET", path: tablePath(ref), signal }, "tables.get", objectProblem);
  }

  listTableData(ref: TableRef, page: { pageToken?: string; maxResults: number }, signal?: AbortSignal): Promise<TablePage> {
    return this.send<TablePage>(
      {
        method: "GET",
        path: `${tablePath(ref)}/data`,
        query: { pageToken: page.pageToken, maxResults: page.maxResults, "formatOptions.useInt64Timestamp": true },
        signal,
      },
      "tabledata.list",
      rowsProblem,
    );
  }

  private async send<T>(req: HttpRequest, method: string, problem: (body: unknown) => string | null): Promise<T> {
    const token = await this.auth.accessToken();
    let body: unknown;
    try {
      body = (await this.http.request<unknown>({ ...req, headers: { authorization: `Bearer ${token}` } })).body;
    } catch (err) {
      // A revoked or expired token: fetch a new one once (a deleted key fails right there).
      if (!(err instanceof HttpError) || err.status !== 401) throw err;
      await this.auth.invalidate(token);
      const fresh = await this.auth.accessToken();
      body = (await this.http.request<unknown>({ ...req, headers: { authorization: `Bearer ${fresh}` } })).body;
    }
    const wrong = problem(body);
    if (wrong) throw Object.assign(new Error(`unexpected answer from ${method}: ${wrong}`), { retryable: false });
    return body as T;
  }
}

function tablePath(ref: TableRef): string {
  return `projects/${enc(ref.projectId)}/datasets/${enc(ref.datasetId)}/tables/${enc(ref.tableId)}`;
}

function objectProblem(body: unknown): string | null {
  return body === null || typeof body !== "object" || Array.isArray(body) ? `expected an object, got ${Array.isArray(body) ? "an array" : typeof body}` : null;
}

function rowsProblem(body: unknown): string | null {
  const problem = objectProblem(body);
  if (problem) return problem;
  const page = body as TablePage;
  if (page.rows !== undefined && !Array.isArray(page.rows)) return `"rows" is not a list`;
  if (page.pageToken !== undefined && typeof page.pageToken !== "string") return `"pageToken" is not a string`;
  return null;
}

function queryPageProblem(body: unknown): string | null {
  const problem = rowsProblem(body);
  if (problem) return problem;
  const page = body as QueryPage;
  if (typeof page.jobComplete !== "boolean") return `"jobComplete" is not a boolean`;
  if (typeof page.jobReference?.jobId !== "string") return "no jobReference.jobId";
  if (page.jobComplete && !Array.isArray(page.schema?.fields)) return "a complete job without schema.fields";
  return null;
}
