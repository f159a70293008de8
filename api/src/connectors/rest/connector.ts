import { ConfiguredApiConnector } from "../base/declarative/ConfiguredApiConnector";
import type { HttpClient } from "../base/http";
import type { ConnectionTestResult, DataRecord, EntityDeclaration, FetchState, ResumableFetchOptions, Since } from "../base/types";
import { formatSince } from "../base/declarative/since";
import { type PaginatorConfig, type RestConfig, type RestEntityConfig, restConfigSchema } from "./config";
import { extractRecords } from "./records";
import { firstPosition, nextPosition, type PagePosition, pageQuery, pageSizeOf } from "./paginators";
import { fillPath, joinUrl, placeholderValues, tagWithParent } from "./subresources";
import { publicWireStrings, secretWireStrings, wireStrings } from "../base/declarative/wireValues";

/**
 * Where an entity's read stands. A sub-resource also keeps its parent's position and the
 * placeholder values of the parent records still to visit, so it resumes without re-reading
 * the parent page.
 */
interface StreamPosition {
  /** Next page of the current list; null: start the list of the next queued parent. */
  page: PagePosition | null;
  parent?: { position: StreamPosition | null; queue: Record<string, string>[] };
}

interface PageRead {
  records: DataRecord[];
  next: StreamPosition | null;
  requests: number;
}

const NAME = "rest";
const EMPTY_READS_FACTOR = 10;

/** A REST API described by a config: entities, paginators, auth, incremental parameters. */
export class RestConnector extends ConfiguredApiConnector<RestConfig> {
  protected readonly connectorId = NAME;

  protected apiUrl(config: RestConfig): string {
    return config.base_url;
  }

  getMetadata() {
    return {
      name: "REST API",
      version: "1.0.0",
      description: "Any JSON REST API, described by a config: paths, paginators, auth, sub-resources, incremental filters",
      supportedEntities: this.entityNames(),
      author: "Mako",
    };
  }

  getConfigSchema() {
    return restConfigSchema;
  }

  getEntityDeclarations(): Record<string, EntityDeclaration> {
    const declarations: Record<string, EntityDeclaration> = {};
    for (const e of this.tryConfig()?.entities ?? []) {
      declarations[e.name] = {
        primaryKey: e.primary_key,
        cursorField: e.incremental?.cursor_field,
        description: `${e.method} ${e.path ?? `/${e.name}`}`,
      };
    }
    return declarations;
  }

  supportsResumableFetching() {
    return true;
  }

  async testConnection(): Promise<ConnectionTestResult> {
    try {
      const entity = this.config.entities.find((e) => e.parent === undefined);
      if (!entity) return { success: false, message: `${NAME}: every entity has a parent; nothing to test from` };
      const read = await this.readPage(entity, this.startOf(entity), undefined, 1);
      return { success: true, message: `Connected: ${entity.name} returned ${read.records.length} record(s) on its first page` };
    } catch (err) {
      return { success: false, message: err instanceof Error ? err.message : String(err) };
    }
  }

  async fetchEntityChunk(options: ResumableFetchOptions): Promise<FetchState> {
    const entity = this.entity(options.entity);
    const metadata = options.state?.metadata as { position?: StreamPosition | null; since?: Since } | undefined;
    // The mark is pinned for the whole pass, so a resumed chunk filters like the first one.
    const since = options.state ? metadata?.since : (options.since ?? entity.incremental?.start);
    let position: StreamPosition | null = metadata?.position === undefined ? this.startOf(entity) : metadata.position;
    let processed = options.state?.totalProcessed ?? 0;

    // Sub-resource lists are often empty (incremental: most parents have nothing new). Empty
    // reads may go past the chunk's call budget, up to EMPTY_READS_FACTOR times, so chunks
    // rarely come back empty: the engine takes a run of empty chunks for a loop.
    const emptyBudget = options.maxIterations * EMPTY_READS_FACTOR;
    let emitted = 0;
    for (let calls = 0; position !== null && (calls < options.maxIterations || (emitted === 0 && calls < emptyBudget)); ) {
      options.signal?.throwIfAborted();
      const read = await this.readPage(entity, position, since, options.batchSize, options.signal);
      calls += Math.max(1, read.requests);
      if (read.records.length > 0) {
        await options.onBatch(read.records);
        processed += read.records.length;
        emitted += read.records.length;
        options.onProgress({ processed });
      }
      position = read.next;
    }
    return { hasMore: position !== null, totalProcessed: processed, metadata: { position, since } };
  }

  // --- reading ---------------------------------------------------------------------------

  private startOf(entity: RestEntityConfig): StreamPosition {
    if (entity.parent === undefined) return { page: firstPosition(this.paginatorOf(entity)) };
    return { page: null, parent: { position: this.startOf(this.entity(entity.parent)), queue: [] } };
  }

  /** One page of an entity (one API call, or one parent page when a sub-resource runs dry). */
  private async readPage(entity: RestEntityConfig, pos: StreamPosition, since: Since | undefined, batchSize: number, signal?: AbortSignal): Promise<PageRead> {
    const parent = pos.parent;
    if (!parent) {
      const page = pos.page ?? firstPosition(this.paginatorOf(entity));
      const { records, next } = await this.requestPage(entity, page, {}, since, batchSize, signal);
      return { records, next: next ? { page: next } : null, requests: 1 };
    }
    const parentEntity = this.entity(entity.parent!);
    if (parent.queue.length === 0) {
      if (parent.position === null) return { records: [], next: null, requests: 0 };
      // Parents are read whole: the incremental mark is the child's, not theirs.
      const read = await this.readPage(parentEntity, parent.position, undefined, batchSize, signal);
      const where = `${NAME}: entity "${entity.name}"`;
      const queue = read.records.map((r) => placeholderValues(entity.path!, r, where));
      return { records: [], next: normalise({ page: null, parent: { position: read.next, queue } }), requests: read.requests };
    }
    const values = parent.queue[0];
    const page = pos.page ?? firstPosition(this.paginatorOf(entity));
    const { records, next } = await this.requestPage(entity, page, values, since, batchSize, signal);
    tagWithParent(records, parentEntity.name, values);
    const after: StreamPosition = next
      ? { page: next, parent }
      : { page: null, parent: { position: parent.position, queue: parent.queue.slice(1) } };
    return { records, next: normalise(after), requests: 1 };
  }

  private async requestPage(
    entity: RestEntityConfig,
    page: PagePosition,
    values: Record<string, string>,
    since: Since | undefined,
    batchSize: number,
    signal?: AbortSignal,
  ): Promise<{ records: DataRecord[]; next: PagePosition | null }> {
    const config = this.config;
    const paginator = this.paginatorOf(entity);
    const pageSize = pageSizeOf(paginator, batchSize);
    const path = fillPath(entity.path ?? `/${entity.name}`, values);
    const url = page.kind === "url" ? page.url : joinUrl(config.base_url, path);
    // Credentials go to base_url's origin only: a next link may point anywhere.
    const own = sameOrigin(url, config.base_url);
    const secretParams = own ? { ...secretWireStrings(config.params), ...secretWireStrings(entity.params) } : {};
    // A next URL from the API carries the first request's parameters, except the secret ones:
    // those were taken out before it was stored (withoutSecrets) and go back in here.
    const query =
      page.kind === "url"
        ? secretParams
        : { ...wireStrings(config.params), ...wireStrings(entity.params), ...this.sinceQuery(entity, since), ...pageQuery(paginator, page, pageSize) };
    const headers = own ? wireStrings(entity.headers) : publicWireStrings(entity.headers);
    const client = this.httpClient();
    const response = await this.authOf().send((authHeaders) =>
      client.request({ method: entity.method, path: url, query, headers: own ? { ...headers, ...authHeaders } : headers, body: entity.body, signal }),
    );
    const extracted = extractRecords(response.body, entity.records_path ?? config.records_path);
    if ("problem" in extracted) {
      throw Object.assign(new Error(`${NAME}: entity "${entity.name}": ${entity.method} ${path}: ${extracted.problem}`), { retryable: false });
    }
    const next = nextPosition(paginator, page, { body: response.body, headers: response.headers, url, records: extracted.records }, (u) =>
      this.withoutSecrets(u, entity),
    );
    return { records: extracted.records, next };
  }

  /**
   * A next-page URL fit to store in the checkpoint: without the query parameters that carry
   * the API key or a secret param (added back when the request is made).
   */
  private withoutSecrets(url: string, entity: RestEntityConfig): string {
    const auth = this.config.auth;
    const names = [
      ...(auth.type === "api_key" && auth.in === "query" ? [auth.name] : []),
      ...Object.keys(secretWireStrings(this.config.params)),
      ...Object.keys(secretWireStrings(entity.params)),
    ];
    if (names.length === 0) return url;
    const parsed = new URL(url);
    for (const name of names) parsed.searchParams.delete(name);
    return parsed.toString();
  }

  private sinceQuery(entity: RestEntityConfig, since: Since | undefined): Record<string, string> {
    const inc = entity.incremental;
    if (!inc || since === undefined || since === null) return {};
    return { [inc.param]: formatSince(since, inc.format) };
  }

  private paginatorOf(entity: RestEntityConfig): PaginatorConfig {
    return entity.paginator ?? this.config.paginator ?? { type: "none" };
  }
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

/** A sub-resource with no parents left to visit and none to read is finished. */
function normalise(pos: StreamPosition): StreamPosition | null {
  if (pos.parent && pos.page === null && pos.parent.queue.length === 0 && pos.parent.position === null) return null;
  return pos;
}
