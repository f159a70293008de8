// A local BigQuery REST API (https://bigquery.googleapis.com/bigquery/v2) and Google's OAuth 2.0
// token endpoint, following Google's public reference:
//  - jobs.query          POST /projects/{projectId}/queries
//    https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/query — body: query,
//    useLegacySql (defaults to TRUE: only GoogleSQL is evaluated here, so a request that does
//    not set it to false is refused), maxResults, timeoutMs, location, parameterMode,
//    queryParameters, defaultDataset, formatOptions.useInt64Timestamp. The answer has
//    jobReference always; schema, rows, totalRows and pageToken only once jobComplete is true.
//  - jobs.getQueryResults GET /projects/{projectId}/queries/{jobId}
//    https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/getQueryResults — pageToken,
//    maxResults, startIndex, timeoutMs, location (required for jobs outside the US and EU
//    multi-regions), formatOptions.useInt64Timestamp.
//  - tables.get          GET /projects/{p}/datasets/{d}/tables/{t}
//    https://cloud.google.com/bigquery/docs/reference/rest/v2/tables/get
//  - tabledata.list      GET /projects/{p}/datasets/{d}/tables/{t}/data
//    https://cloud.google.com/bigquery/docs/reference/rest/v2/tabledata/list — maxResults,
//    pageToken, startIndex, formatOptions.useInt64Timestamp; a VIEW cannot be listed.
//  - the token endpoint (./oauth.ts) and Bearer access tokens on every API call.
// Inconvenient parts kept: jobs report jobComplete false for their first status answers; a page
// stops at maxResults or ~10 MB of rows, whichever comes first; `rows` is absent from an empty
// page; query results live in an anonymous table for about 24 hours
// (https://cloud.google.com/bigquery/docs/cached-results), then getQueryResults answers 404
// notFound; errors are {"error": {code, message, errors: [{message, domain, reason}], status}}
// with the reasons and statuses of https://cloud.google.com/bigquery/docs/error-messages —
// rateLimitExceeded arrives as HTTP 403 like accessDenied, backendError as 500/503.
// Other parameters are ignored, as the API ignores what it does not know.
import { randomBytes } from "node:crypto";
import { FixedWindowLimiter, startFakeServer, type FakeRequest, type FakeResponse, type FakeServer } from "../fakeServer";
import { BIGQUERY_SCOPES, TokenService, type IssuedToken, type ServiceAccountKeyFile } from "./oauth";
import { parseParameters, QueryError, runQuery, type Relation } from "./sql";
import { encodeRow, parameterValue, responseSchema, toCell, type Cell, type FieldSchema } from "./values";

export type { FieldSchema } from "./values";
export type { ServiceAccountKeyFile } from "./oauth";

export interface BigQueryFakeOptions {
  /** The project tables and keys belong to by default. Default "mako-fake". */
  projectId?: string;
  /** Location of datasets created without one. Default "US". */
  location?: string;
  /** Status answers (jobs.query's included) that say jobComplete: false before a job is done. Default 1. */
  pendingPolls?: number;
  /** How long a finished query's results can be read. Default 24 hours. */
  resultsTtlMs?: number;
  /** Bytes of rows in one page before it is cut short (the API's 10 MB response cap). */
  maxPageBytes?: number;
  /** Lifetime of access tokens. Default 3600 s (expires_in 3599, as Google answers). */
  tokenLifetimeSeconds?: number;
  /** API requests per window before 403 rateLimitExceeded. Default: none. */
  rateLimit?: { limit: number; windowMs: number };
}

interface Table {
  project: string;
  dataset: string;
  table: string;
  type: "TABLE" | "VIEW";
  location: string;
  fields: FieldSchema[];
  rows: { source: Record<string, unknown>; cells: Cell[] }[];
}

interface Job {
  id: string;
  project: string;
  location: string;
  result: Relation;
  /** Status answers still to say jobComplete: false. */
  pending: number;
  completedAt?: number;
  expired: boolean;
  int64Timestamp: boolean;
}

interface PageCursor {
  of: string;
  offset: number;
}

export interface BigQueryFake extends FakeServer {
  projectId: string;
  /** The REST base a client is configured with: `${url}/bigquery/v2`. */
  apiUrl: string;
  tokenUri: string;
  /** Token exchanges, jobs created, getQueryResults calls, query result pages served, tabledata.list pages served. */
  counters: { tokenRequests: number; jobs: number; resultCalls: number; pages: number; tabledataPages: number };
  /** A new service account key of `projectId` (default: the fake's), able to run jobs there. */
  createKey(projectId?: string): ServiceAccountKeyFile;
  revokeKey(keyId: string): void;
  /** Every access token issued so far expires now. */
  expireTokens(): void;
  /** Every finished query's results are gone, as after their ~24 h. */
  expireJobResults(): void;
  /** `dataset.table` or `project.dataset.table`. */
  createTable(ref: string, fields: FieldSchema[], rows?: Record<string, unknown>[], options?: { location?: string; type?: "TABLE" | "VIEW" }): void;
  insert(ref: string, rows: Record<string, unknown>[]): void;
  /** Applies `patch` to the rows `where` accepts; returns how many. */
  update(ref: string, where: (row: Record<string, unknown>) => boolean, patch: Record<string, unknown>): number;
  remove(ref: string, where: (row: Record<string, unknown>) => boolean): number;
  /** The rows of a table as given (with patches applied), in table order. */
  rows(ref: string): Record<string, unknown>[];
  /** The account may no longer read this table (403 accessDenied). */
  denyTable(ref: string): void;
}

const STATUS: Record<number, string> = { 400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 500: "INTERNAL", 503: "UNAVAILABLE" };

/** An error response in Google's JSON error format (also for injecting faults in tests). */
export function bigQueryError(status: number, reason: string, message: string, domain = "global"): FakeResponse {
  return { status, body: { error: { code: status, message, errors: [{ message, domain, reason }], status: STATUS[status] ?? "UNKNOWN" } } };
}

const DAY_MS = 24 * 3600_000;
const MULTI_REGIONS = new Set(["us", "eu"]);

export async function startBigQueryFake(options: BigQueryFakeOptions = {}): Promise<BigQueryFake> {
  const projectId = options.projectId ?? "mako-fake";
  const defaultLocation = options.location ?? "US";
  const pendingPolls = options.pendingPolls ?? 1;
  const resultsTtlMs = options.resultsTtlMs ?? DAY_MS;
  const maxPageBytes = options.maxPageBytes ?? 10 * 1024 * 1024;
  const limiter = options.rateLimit ? new FixedWindowLimiter(options.rateLimit) : null;
  let baseUrl = "";
  const tokens = new TokenService(() => `${baseUrl}/token`, options.tokenLifetimeSeconds ?? 3600);
  const tables = new Map<string, Table>();
  const denied = new Set<string>();
  const jobs = new Map<string, Job>();
  const cursors = new Map<string, PageCursor>();
  /** Projects each service account may run jobs in (bigquery.jobs.create). */
  const members = new Map<string, Set<string>>();
  const counters = { tokenRequests: 0, jobs: 0, resultCalls: 0, pages: 0, tabledataPages: 0 };

  const key = (project: string, dataset: string, table: string) => `${project}:${dataset}.${table}`;
  const parseRef = (ref: string) => {
    const parts = ref.split(".");
    if (parts.length < 2 || parts.length > 3) throw new Error(`table reference "${ref}" must be dataset.table or project.dataset.table`);
    return parts.length === 3 ? { project: parts[0], dataset: parts[1], table: parts[2] } : { project: projectId, dataset: parts[0], table: parts[1] };
  };
  const tableOf = (ref: string) => {
    const r = parseRef(ref);
    const t = tables.get(key(r.project, r.dataset, r.table));
    if (!t) throw new Error(`no table ${ref}`);
    return t;
  };
  const rowOf = (t: Table, source: Record<string, unknown>) => ({ source, cells: t.fields.map((f) => toCell(f, source[f.name])) });

  /** Rows of a table as a query reads them, or the error BigQuery gives. */
  const readable = (project: string, dataset: string, table: string, location: string | undefined): Table => {
    const t = tables.get(key(project, dataset, table));
    const where = location ?? t?.location ?? defaultLocation;
    if (!t) throw new QueryError(404, "notFound", `Not found: Table ${key(project, dataset, table)} was not found in location ${where}`);
    if (location && t.location.toLowerCase() !== location.toLowerCase()) {
      throw new QueryError(404, "notFound", `Not found: Dataset ${project}:${dataset} was not found in location ${location}`);
    }
    if (denied.has(key(project, dataset, table))) {
      throw new QueryError(403, "accessDenied", `Access Denied: Table ${key(project, dataset, table)}: User does not have permission to query table ${key(project, dataset, table)}, or perhaps it does not exist.`);
    }
    return t;
  };

  const newCursor = (cursor: PageCursor) => {
    const token = randomBytes(18).toString("base64url");
    cursors.set(token, cursor);
    return token;
  };

  /** One page of rows from `offset`: at most maxResults rows and about maxPageBytes. */
  const page = (of: string, fields: FieldSchema[], rows: Cell[][], offset: number, maxResults: number | undefined, int64Timestamp: boolean) => {
    const out: unknown[] = [];
    let bytes = 0;
    let i = offset;
    for (; i < rows.length && (maxResults === undefined || out.length < maxResults); i++) {
      const encoded = encodeRow(fields, rows[i], { int64Timestamp });
      const size = JSON.stringify(encoded).length;
      if (out.length > 0 && bytes + size > maxPageBytes) break;
      bytes += size;
      out.push(encoded);
    }
    return { rows: out, pageToken: i < rows.length ? newCursor({ of, offset: i }) : undefined };
  };

  const positiveInt = (text: string | null): number | undefined | "invalid" => {
    if (text === null) return undefined;
    return /^\d+$/.test(text) ? Number(text) : "invalid";
  };

  const authorize = (req: FakeRequest): IssuedToken | FakeResponse => {
    const header = String(req.headers.authorization ?? "");
    const match = /^Bearer (\S+)$/.exec(header);
    if (!match) {
      return bigQueryError(401, "required", "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.");
    }
    const grant = tokens.tokenFor(match[1]);
    if (!grant) {
      return bigQueryError(401, "authError", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.");
    }
    if (![...grant.scopes].some((s) => BIGQUERY_SCOPES.has(s))) {
      return bigQueryError(403, "insufficientPermissions", "Request had insufficient authentication scopes.");
    }
    return grant;
  };

  const queryResponse = (job: Job, kind: string, maxResults: number | undefined, startIndex: number, pageToken: string | null, int64Timestamp: boolean): FakeResponse => {
    const reference = { projectId: job.project, jobId: job.id, location: job.location };
    if (job.pending > 0) {
      job.pending--;
      return { status: 200, body: { kind, jobReference: reference, jobComplete: false } };
    }
    job.completedAt ??= Date.now();
    let offset = startIndex;
    if (pageToken !== null) {
      const cursor = cursors.get(pageToken);
      if (!cursor || cursor.of !== `job:${job.id}`) return bigQueryError(400, "invalid", "Invalid page token.");
      offset = cursor.offset;
    }
    const p = page(`job:${job.id}`, job.result.fields, job.result.rows, offset, maxResults, int64Timestamp);
    counters.pages++;
    return {
      status: 200,
      body: {
        kind,
        etag: randomBytes(8).toString("base64"),
        schema: { fields: responseSchema(job.result.fields) },
        jobReference: reference,
        totalRows: String(job.result.rows.length),
        ...(p.pageToken ? { pageToken: p.pageToken } : {}),
        ...(p.rows.length > 0 ? { rows: p.rows } : {}),
        totalBytesProcessed: String(job.result.rows.length * 64),
        jobComplete: true,
        cacheHit: false,
      },
    };
  };

  /** POST /projects/{projectId}/queries */
  const jobsQuery = (grant: IssuedToken, project: string, body: Record<string, unknown>): FakeResponse => {
    if (!(members.get(grant.email)?.has(project) ?? false)) {
      return bigQueryError(403, "accessDenied", `Access Denied: Project ${project}: User does not have bigquery.jobs.create permission in project ${project}.`);
    }
    if (typeof body.query !== "string" || body.query.trim() === "") return bigQueryError(400, "invalid", "Required parameter is missing: query");
    if (body.useLegacySql !== false) {
      // jobs.query runs legacy SQL unless told otherwise; this fake evaluates GoogleSQL only.
      return bigQueryError(400, "invalidQuery", "Legacy SQL is not supported by this fake: set useLegacySql to false (jobs.query defaults to legacy SQL)");
    }
    const maxResults = typeof body.maxResults === "number" && body.maxResults >= 0 ? body.maxResults : undefined;
    const location = typeof body.location === "string" && body.location !== "" ? body.location : undefined;
    const formatOptions = (body.formatOptions ?? {}) as { useInt64Timestamp?: unknown };
    const defaultDataset = body.defaultDataset as { projectId?: string; datasetId?: string } | undefined;
    let firstLocation: string | undefined;
    let result: Relation;
    try {
      const params = parseParameters(body, parameterValue);
      result = runQuery(body.query, params, {
        defaultProject: project,
        defaultDataset: typeof defaultDataset?.datasetId === "string" ? { project: defaultDataset.projectId ?? project, dataset: defaultDataset.datasetId } : undefined,
        table(p, d, t) {
          const table = readable(p, d, t, location);
          firstLocation ??= table.location;
          return { fields: table.fields, rows: table.rows.map((r) => r.cells) };
        },
      });
    } catch (err) {
      if (err instanceof QueryError) return bigQueryError(err.status, err.reason, err.message);
      throw err;
    }
    const job: Job = {
      id: `job_${randomBytes(12).toString("base64url")}`,
      project,
      location: location ?? firstLocation ?? defaultLocation,
      // The anonymous results table is a snapshot: later changes to the source do not show.
      result: { fields: result.fields, rows: [...result.rows] },
      pending: pendingPolls,
      expired: false,
      int64Timestamp: formatOptions.useInt64Timestamp === true,
    };
    jobs.set(job.id, job);
    counters.jobs++;
    return queryResponse(job, "bigquery#queryResponse", maxResults, 0, null, job.int64Timestamp);
  };

  /** GET /projects/{projectId}/queries/{jobId} */
  const getQueryResults = (project: string, jobId: string, q: URLSearchParams): FakeResponse => {
    counters.resultCalls++;
    const job = jobs.get(jobId);
    const location = q.get("location");
    const needsLocation = job !== undefined && !MULTI_REGIONS.has(job.location.toLowerCase());
    if (!job || job.project !== project || (location ? location.toLowerCase() !== job.location.toLowerCase() : needsLocation)) {
      return bigQueryError(404, "notFound", `Not found: Job ${project}:${location ?? "US"}.${jobId}`);
    }
    if (job.completedAt !== undefined && (job.expired || Date.now() - job.completedAt > resultsTtlMs)) {
      return bigQueryError(404, "notFound", `Not found: Table ${project}:_${job.id.slice(4, 12)}.anon${job.id.slice(12)} was not found in location ${job.location}`);
    }
    const maxResults = positiveInt(q.get("maxResults"));
    const startIndex = positiveInt(q.get("startIndex"));
    if (maxResults === "invalid" || startIndex === "invalid") return bigQueryError(400, "invalid", "Invalid value for maxResults or startIndex");
    const int64Timestamp = q.get("formatOptions.useInt64Timestamp") === "true";
    return queryResponse(job, "bigquery#getQueryResultsResponse", maxResults, startIndex ?? 0, q.get("pageToken"), int64Timestamp);
  };

  /** GET /projects/{p}/datasets/{d}/tables/{t}[/data] */
  const tableRoute = (p: string, d: string, t: string, data: boolean, q: URLSearchParams): FakeResponse => {
    let table: Table;
    try {
      table = readable(p, d, t, undefined);
    } catch (err) {
      if (err instanceof QueryError) return bigQueryError(err.status, err.reason, err.message);
      throw err;
    }
    if (!data) {
      return {
        status: 200,
        body: {
          kind: "bigquery#table",
          id: key(p, d, t),
          tableReference: { projectId: p, datasetId: d, tableId: t },
          schema: { fields: responseSchema(table.fields) },
          numRows: String(table.rows.length),
          type: table.type,
          location: table.location,
        },
      };
    }
    if (table.type !== "TABLE") return bigQueryError(400, "invalid", `Cannot list a table of type ${table.type}.`);
    const maxResults = positiveInt(q.get("maxResults"));
    const startIndex = positiveInt(q.get("startIndex"));
    if (maxResults === "invalid" || startIndex === "invalid") return bigQueryError(400, "invalid", "Invalid value for maxResults or startIndex");
    let offset = startIndex ?? 0;
    const token = q.get("pageToken");
    const of = `table:${key(p, d, t)}`;
    if (token !== null) {
      const cursor = cursors.get(token);
      if (!cursor || cursor.of !== of) return bigQueryError(400, "invalid", "Invalid page token.");
      offset = cursor.offset;
    }
    const cells = table.rows.map((r) => r.cells);
    const pg = page(of, table.fields, cells, offset, maxResults, q.get("formatOptions.useInt64Timestamp") === "true");
    counters.tabledataPages++;
    return {
      status: 200,
      body: {
        kind: "bigquery#tableDataList",
        etag: randomBytes(8).toString("base64"),
        totalRows: String(table.rows.length),
        ...(pg.pageToken ? { pageToken: pg.pageToken } : {}),
        ...(pg.rows.length > 0 ? { rows: pg.rows } : {}),
      },
    };
  };

  const server = await startFakeServer((req) => {
    const path = req.url.pathname;
    if (req.method === "POST" && path === "/token") {
      counters.tokenRequests++;
      const form = new URLSearchParams(typeof req.body === "string" ? req.body : "");
      return tokens.exchange(form);
    }
    const api = /^\/bigquery\/v2\/projects\/([^/]+)\/(.+)$/.exec(path);
    if (!api) return bigQueryError(404, "notFound", `Not found: ${req.method} ${path}`);
    const grant = authorize(req);
    if ("status" in grant) return grant;
    if (limiter && !limiter.take().allowed) {
      return bigQueryError(403, "rateLimitExceeded", "Exceeded rate limits: too many api requests per user per method for this user_method. For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas", "usageLimits");
    }
    const project = decodeURIComponent(api[1]);
    const rest = api[2];
    if (req.method === "POST" && rest === "queries") {
      const body = req.body && typeof req.body === "object" ? (req.body as Record<string, unknown>) : {};
      return jobsQuery(grant, project, body);
    }
    const results = /^queries\/([^/]+)$/.exec(rest);
    if (req.method === "GET" && results) return getQueryResults(project, decodeURIComponent(results[1]), req.url.searchParams);
    const table = /^datasets\/([^/]+)\/tables\/([^/]+?)(\/data)?$/.exec(rest);
    if (req.method === "GET" && table) {
      return tableRoute(project, decodeURIComponent(table[1]), decodeURIComponent(table[2]), table[3] !== undefined, req.url.searchParams);
    }
    return bigQueryError(404, "notFound", `Not found: ${req.method} ${path}`);
  });
  baseUrl = server.url;

  return {
    ...server,
    projectId,
    apiUrl: `${server.url}/bigquery/v2`,
    tokenUri: `${server.url}/token`,
    counters,
    createKey(project = projectId) {
      const file = tokens.createKey(project);
      if (!members.has(file.client_email)) members.set(file.client_email, new Set());
      members.get(file.client_email)!.add(project);
      return file;
    },
    revokeKey: (id) => tokens.revokeKey(id),
    expireTokens: () => tokens.expireTokens(),
    expireJobResults() {
      for (const job of jobs.values()) if (job.completedAt !== undefined) job.expired = true;
    },
    createTable(ref, fields, rows = [], opts = {}) {
      const r = parseRef(ref);
      const t: Table = { ...r, type: opts.type ?? "TABLE", location: opts.location ?? defaultLocation, fields, rows: [] };
      t.rows = rows.map((row) => rowOf(t, row));
      tables.set(key(r.project, r.dataset, r.table), t);
    },
    insert(ref, rows) {
      const t = tableOf(ref);
      for (const row of rows) t.rows.push(rowOf(t, row));
    },
    update(ref, where, patch) {
      const t = tableOf(ref);
      let n = 0;
      t.rows = t.rows.map((r) => {
        if (!where(r.source)) return r;
        n++;
        return rowOf(t, { ...r.source, ...patch });
      });
      return n;
    },
    remove(ref, where) {
      const t = tableOf(ref);
      const before = t.rows.length;
      t.rows = t.rows.filter((r) => !where(r.source));
      return before - t.rows.length;
    },
    rows: (ref) => tableOf(ref).rows.map((r) => r.source),
    denyTable(ref) {
      const r = parseRef(ref);
      denied.add(key(r.project, r.dataset, r.table));
    },
  };
}
