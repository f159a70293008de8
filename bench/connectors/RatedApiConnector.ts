import { z } from "zod";
import { BaseConnector } from "../../api/src/connectors/base/BaseConnector";
import type { HttpClient } from "../../api/src/connectors/base/http";
import { secret } from "../../api/src/connectors/base/secret";
import type { DataRecord, FetchState, ResumableFetchOptions } from "../../api/src/connectors/base/types";

const configSchema = z.object({ base_url: z.string().url(), token: secret(z.string().min(1)) });

interface Page {
  data: DataRecord[];
  has_more: boolean;
  next_cursor: string | null;
}

/**
 * A connector for the rate-limited fake (bench/fakes/ratedApi.ts): three collections read by
 * cursor, with no pacing code of its own; the shared HTTP client and its limiter do that.
 */
export class RatedApiConnector extends BaseConnector<HttpClient, z.infer<typeof configSchema>> {
  getMetadata() {
    return { name: "Rated API", version: "1.0.0", description: "The local rate-limited fake API", supportedEntities: ["contacts", "deals", "tickets"] };
  }

  getConfigSchema() {
    return configSchema;
  }

  getDefaultRateLimit() {
    return { requestsPerSecond: 20, burst: 1 };
  }

  private api(): HttpClient {
    return (this.client ??= this.createHttpClient({
      baseUrl: this.dataSource.config.base_url,
      headers: { Authorization: `Bearer ${this.dataSource.config.token}` },
      secrets: [this.dataSource.config.token],
    }));
  }

  async testConnection() {
    try {
      await this.api().get("/v1/contacts", { limit: 1 });
      return { success: true, message: "Connected" };
    } catch (err) {
      return { success: false, message: err.message };
    }
  }

  supportsResumableFetching() {
    return true;
  }

  async fetchEntityChunk(options: ResumableFetchOptions): Promise<FetchState> {
    let cursor = options.state?.cursor ?? null;
    let processed = options.state?.totalProcessed ?? 0;
    for (let call = 0; call < options.maxIterations; call++) {
      const page = await this.api().get<Page>(`/v1/${options.entity}`, { limit: options.batchSize, cursor: cursor ?? undefined }, { signal: options.signal });
      await options.onBatch(page.data);
      processed += page.data.length;
      if (!page.has_more) return { cursor, totalProcessed: processed, hasMore: false };
      cursor = page.next_cursor;
    }
    return { cursor, totalProcessed: processed, hasMore: true };
  }
}
