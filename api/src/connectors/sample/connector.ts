import { z } from "zod";
import { BaseConnector } from "../base/BaseConnector";
import type { DataRecord, DataSource, EntityDeclaration, FetchState, ResumableFetchOptions } from "../base/types";
import { firstIndexAfter, generateProduct, generatePurchase, generateUser, productCount } from "./generate";

export const sampleConfigSchema = z.object({
  count: z.number().int().min(0).max(100_000_000).default(1000).describe("Number of users to generate"),
  seed: z.number().int().default(1).describe("Seed: the same seed gives the same records"),
  page_delay_ms: z.number().int().min(0).max(60_000).default(0).describe("Simulated API latency per page, in ms"),
});

export type SampleConfig = z.infer<typeof sampleConfigSchema>;

type Entity = "users" | "products" | "purchases";

/**
 * An offline source in the spirit of Airbyte's source-faker: deterministic records from
 * `{count, seed}`, paginated like an API (one page = one "call"), resumable by offset and
 * incremental by `updated_at`.
 */
export class SampleConnector extends BaseConnector<undefined, z.input<typeof sampleConfigSchema>> {
  private readonly config: SampleConfig;

  constructor(dataSource: DataSource<z.input<typeof sampleConfigSchema>>) {
    super(dataSource);
    this.config = sampleConfigSchema.parse(dataSource.config ?? {});
  }

  getMetadata() {
    return {
      name: "Sample",
      version: "1.0.0",
      description: "Deterministic fake users, products and purchases, offline. For trying Mako and for benchmarks.",
      supportedEntities: ["users", "products", "purchases"],
      author: "Mako",
    };
  }

  getConfigSchema() {
    return sampleConfigSchema;
  }

  getEntityDeclarations(): Record<Entity, EntityDeclaration> {
    return {
      users: { cursorField: "updated_at", description: "Exactly `count` users" },
      products: { cursorField: "updated_at", description: "count / 10 products (at least 5)" },
      purchases: { cursorField: "updated_at", description: "`count` purchases" },
    };
  }

  async testConnection() {
    return { success: true, message: `Sample source ready: ${this.config.count} users, seed ${this.config.seed}` };
  }

  supportsResumableFetching() {
    return true;
  }

  async fetchEntityChunk(options: ResumableFetchOptions): Promise<FetchState> {
    const entity = options.entity as Entity;
    const total = this.totalOf(entity);
    const pageSize = Math.max(1, options.batchSize);
    // Offsets are 1-based record ids; an incremental pass starts after the mark.
    let next = options.state?.offset ?? (options.since === undefined ? 1 : firstIndexAfter(options.since));
    let processed = options.state?.totalProcessed ?? 0;

    for (let call = 0; call < options.maxIterations && next <= total; call++) {
      if (this.config.page_delay_ms > 0) await this.sleep(this.config.page_delay_ms);
      const end = Math.min(total, next + pageSize - 1);
      const page: DataRecord[] = new Array(end - next + 1);
      for (let i = next; i <= end; i++) page[i - next] = this.generate(entity, i);
      await options.onBatch(page);
      processed += page.length;
      next = end + 1;
      options.onProgress({ processed, total });
    }
    return { offset: next, totalProcessed: processed, hasMore: next <= total };
  }

  private totalOf(entity: Entity): number {
    switch (entity) {
      case "users":
      case "purchases":
        return this.config.count;
      case "products":
        return productCount(this.config.count);
      default:
        throw Object.assign(new Error(`sample: unknown entity "${entity}"`), { retryable: false });
    }
  }

  private generate(entity: Entity, i: number): DataRecord {
    const { seed } = this.config;
    if (entity === "users") return generateUser(i, seed);
    if (entity === "products") return generateProduct(i, seed);
    return generatePurchase(i, seed);
  }
}
