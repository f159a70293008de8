import { HttpError } from "../base/http";
import { abortableDelay } from "../base/http/abortableDelay";
import type { FetchState, ResumableFetchOptions } from "../base/types";
import type { BigQueryApi, FvRow, JobReference, QueryPage, TableRef } from "./api";
import type { BigQueryEntity } from "./config";
import { rowDecoder, type TableField } from "./decode";
import { entityQuery, tableRef } from "./sql";

/**
 * Where an entity's pass stands, stored in the checkpoint: a table listed page by page, or a
 * query job whose finished results are read page by page. A resumed pass reads the same job,
 * so it sees the same snapshot of the data.
 */
export type ReadState =
  | { kind: "tabledata"; table: TableRef; schema: TableField[]; pageToken?: string }
  | { kind: "job"; job: JobReference; complete: boolean; schema?: TableField[]; pageToken?: string };

interface Page {
  rows?: FvRow[];
  pageToken?: string;
  totalRows?: string;
  schema?: { fields: TableField[] };
}

export interface ReaderContext {
  api: BigQueryApi;
  entity: BigQueryEntity;
  /** Project the jobs run in, and of tables named dataset.table. */
  projectId: string;
  location?: string;
}

/** First pause between polls of an unfinished job; doubles up to the cap. */
const FIRST_POLL_DELAY_MS = 50;
const MAX_POLL_DELAY_MS = 5_000;
/** BigQuery ends a query job after six hours. */
const MAX_JOB_WAIT_MS = 6 * 3600_000;

function permanent(message: string): Error {
  return Object.assign(new Error(message), { retryable: false });
}

/** Query results that are gone (their anonymous table expired after ~24 h): 404 notFound. */
function resultsGone(err: unknown): boolean {
  return err instanceof HttpError && err.status === 404 && err.code === "notFound";
}

/** Reads one chunk of an entity: at most `maxIterations` API calls (polls of a running job aside). */
export class EntityReader {
  private processed: number;

  constructor(
    private readonly ctx: ReaderContext,
    private readonly options: ResumableFetchOptions,
  ) {
    this.processed = options.state?.totalProcessed ?? 0;
  }

  async chunk(): Promise<FetchState> {
    const { maxIterations } = this.options;
    const saved = this.options.state?.metadata?.read as ReadState | undefined;
    let read: ReadState;
    let page: Page | undefined;
    let calls = 0;
    // A job started in this chunk that is already "not found" is a real error, not expiry.
    let fresh = false;
    if (saved) read = saved;
    else {
      ({ read, page } = await this.begin());
      calls++;
      fresh = true;
      // Checkpoint a running job's id before waiting on it: a crash then re-reads it, not re-runs it.
      if (read.kind === "job" && !read.complete) return this.more(read);
    }

    for (;;) {
      if (!page) {
        if (calls >= maxIterations) return this.more(read);
        try {
          page = await this.fetchPage(read);
          if (read.kind === "job" && !read.complete) read = { ...read, complete: true };
        } catch (err) {
          if (read.kind !== "job" || fresh || !resultsGone(err)) throw err;
          this.options.onLog(
            "warn",
            `the results of job ${read.job.jobId} are gone (BigQuery keeps them about 24 hours): running the query again with the same since (${this.options.since ?? "none"})`,
          );
          ({ read, page } = await this.startJob());
          fresh = true;
        }
        calls++;
        if (!page) continue; // the restarted job is still running: the next turn waits for it
      }
      if (read.kind === "job" && !read.schema) {
        read = { ...read, schema: this.checkColumns(page.schema!.fields) };
      }
      await this.emit(read.schema!, page);
      if (!page.pageToken) return { hasMore: false, totalProcessed: this.processed };
      read = { ...read, pageToken: page.pageToken };
      page = undefined;
    }
  }

  private more(read: ReadState): FetchState {
    return { hasMore: true, totalProcessed: this.processed, cursor: read.pageToken ?? null, metadata: { read } };
  }

  /** Whole tables are listed (tabledata.list: no query, no bytes billed); the rest is a query job. */
  private async begin(): Promise<{ read: ReadState; page?: Page }> {
    const { entity, projectId, api } = this.ctx;
    if (entity.table !== undefined && (this.options.since === undefined || entity.cursor_field === undefined)) {
      const table = tableRef(entity.table, projectId);
      const info = await api.getTable(table, this.options.signal);
      // Views, materialized views and external tables cannot be listed: they are queried.
      if (info.type === "TABLE" && Array.isArray(info.schema?.fields)) {
        return { read: { kind: "tabledata", table, schema: this.checkColumns(info.schema.fields) } };
      }
    }
    return this.startJob();
  }

  /** jobs.query: the job, and its first page when it finished within the server's wait. */
  private async startJob(): Promise<{ read: ReadState; page?: Page }> {
    const { entity, projectId, location, api } = this.ctx;
    const request = { ...entityQuery(entity, projectId, this.options.since), maxResults: this.pageSize(), location };
    const answer = await api.query(projectId, request, this.options.signal);
    const job = { projectId: answer.jobReference.projectId ?? projectId, jobId: answer.jobReference.jobId, location: answer.jobReference.location ?? location };
    return { read: { kind: "job", job, complete: answer.jobComplete }, page: answer.jobComplete ? answer : undefined };
  }

  private fetchPage(read: ReadState): Promise<Page> {
    const { api } = this.ctx;
    const signal = this.options.signal;
    if (read.kind === "tabledata") return api.listTableData(read.table, { pageToken: read.pageToken, maxResults: this.pageSize() }, signal);
    if (!read.complete) return this.waitFor(read.job);
    return api.getQueryResults(read.job, { pageToken: read.pageToken, maxResults: this.pageSize() }, signal);
  }

  /** Polls a running job until it is done; its answer then carries the first page. */
  private async waitFor(job: JobReference): Promise<QueryPage> {
    const started = Date.now();
    for (let delay = FIRST_POLL_DELAY_MS; ; delay = Math.min(MAX_POLL_DELAY_MS, delay * 2)) {
      const answer = await this.ctx.api.getQueryResults(job, { maxResults: this.pageSize() }, this.options.signal);
      if (answer.jobComplete) return answer;
      if (Date.now() - started > MAX_JOB_WAIT_MS) throw permanent(`job ${job.jobId} is still running after 6 hours`);
      await abortableDelay(delay, this.options.signal);
    }
  }

  private async emit(schema: TableField[], page: Page): Promise<void> {
    const rows = page.rows ?? [];
    if (page.totalRows !== undefined) this.options.onProgress({ processed: this.processed, total: Number(page.totalRows) });
    if (rows.length === 0) return;
    const decode = rowDecoder(schema);
    const records = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) records[i] = decode(rows[i]);
    await this.options.onBatch(records);
    this.processed += rows.length;
    this.options.onProgress({ processed: this.processed });
  }

  /** The key and cursor columns must be top-level columns of what is read. */
  private checkColumns(fields: TableField[]): TableField[] {
    const { entity } = this.ctx;
    const names = new Set(fields.map((f) => f.name));
    const keys = Array.isArray(entity.primary_key) ? entity.primary_key : [entity.primary_key];
    for (const [what, column] of [...keys.map((k) => ["primary_key", k]), ...(entity.cursor_field ? [["cursor_field", entity.cursor_field]] : [])]) {
      if (names.has(column)) continue;
      const shown = fields.slice(0, 20).map((f) => f.name).join(", ");
      throw permanent(`${what} "${column}" is not a column of the result (columns: ${shown}${fields.length > 20 ? ", …" : ""})`);
    }
    return fields;
  }

  /** Rows per page: the engine's batch size (BigQuery also cuts a page at about 10 MB). */
  private pageSize(): number {
    return Math.max(1, this.options.batchSize);
  }
}
