import { ConfiguredApiConnector } from "../base/declarative/ConfiguredApiConnector";
import type { HttpClient } from "../base/http";
import type { ConnectionTestResult, EntityDeclaration, FetchState, ResumableFetchOptions, Since } from "../base/types";
import { formatSince } from "../base/declarative/since";
import { type GraphqlConfig, type GraphqlEntityConfig, graphqlConfigSchema, paginationOf } from "./config";
import { type GraphqlPosition, graphqlErrorOf, pageSizeOf, pageVariables, readGraphqlPage } from "./pages";

const NAME = "graphql";

interface GraphqlBody {
  data?: unknown;
  errors?: unknown;
}

/** A GraphQL API described by a config: per entity a query, where its records are, how it pages. */
export class GraphqlConnector extends ConfiguredApiConnector<GraphqlConfig> {
  protected readonly connectorId = NAME;

  protected apiUrl(config: GraphqlConfig): string {
    return config.endpoint;
  }

  getMetadata() {
    return {
      name: "GraphQL API",
      version: "1.0.0",
      description: "Any GraphQL API, described by a config: queries, Relay or offset pagination, auth, incremental variables",
      supportedEntities: this.entityNames(),
      author: "Mako",
    };
  }

  getConfigSchema() {
    return graphqlConfigSchema;
  }

  getEntityDeclarations(): Record<string, EntityDeclaration> {
    const declarations: Record<string, EntityDeclaration> = {};
    for (const e of this.tryConfig()?.entities ?? []) {
      declarations[e.name] = { primaryKey: e.primary_key, cursorField: e.incremental?.cursor_field };
    }
    return declarations;
  }

  supportsResumableFetching() {
    return true;
  }

  async testConnection(): Promise<ConnectionTestResult> {
    try {
      const entity = this.config.entities[0];
      const page = await this.readPage(entity, {}, undefined, 1);
      return { success: true, message: `Connected: ${entity.name} returned ${page.records.length} record(s) on its first page` };
    } catch (err) {
      return { success: false, message: err instanceof Error ? err.message : String(err) };
    }
  }

  async fetchEntityChunk(options: ResumableFetchOptions): Promise<FetchState> {
    const entity = this.entity(options.entity);
    const metadata = options.state?.metadata as { position?: GraphqlPosition | null; since?: Since } | undefined;
    // The mark is pinned for the whole pass, so a resumed chunk filters like the first one.
    const since = options.state ? metadata?.since : (options.since ?? entity.incremental?.start);
    let position: GraphqlPosition | null = metadata?.position === undefined ? {} : metadata.position;
    let processed = options.state?.totalProcessed ?? 0;

    for (let calls = 0; position !== null && calls < options.maxIterations; calls++) {
      options.signal?.throwIfAborted();
      const page = await this.readPage(entity, position, since, options.batchSize, options.signal);
      if (page.records.length > 0) {
        await options.onBatch(page.records);
        processed += page.records.length;
        options.onProgress({ processed });
      }
      position = page.next;
    }
    return { hasMore: position !== null, totalProcessed: processed, metadata: { position, since } };
  }

  private async readPage(entity: GraphqlEntityConfig, pos: GraphqlPosition, since: Since | undefined, batchSize: number, signal?: AbortSignal) {
    const pagination = paginationOf(entity);
    const variables: Record<string, unknown> = { ...entity.variables, ...pageVariables(pagination, pos, pageSizeOf(pagination, batchSize)) };
    if (entity.incremental && since !== undefined && since !== null) {
      variables[entity.incremental.variable] = formatSince(since, entity.incremental.format);
    }
    const client = this.httpClient();
    const endpoint = this.config.endpoint;
    const response = await this.authOf().send((headers) =>
      client.request<GraphqlBody>({ method: "POST", path: endpoint, body: { query: entity.query, variables }, headers, signal }),
    );
    const body = response.body;
    const error = graphqlErrorOf(entity.name, body?.errors);
    if (error) throw error;
    if (body === null || typeof body !== "object" || !("data" in body)) {
      throw Object.assign(new Error(`${NAME}: entity "${entity.name}": response has neither data nor errors`), { retryable: false });
    }
    const page = readGraphqlPage(body.data, entity.path, pagination, pos);
    if ("problem" in page) throw Object.assign(new Error(`${NAME}: entity "${entity.name}": ${page.problem}`), { retryable: false });
    return page;
  }
}
