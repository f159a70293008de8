import { z } from "zod";
import { BaseConnector, secret } from "../../src/connectors/base";
import type { FetchState, ResumableFetchOptions } from "../../src/connectors/base/types";

export const keyedConfigSchema = z.object({
  account: z.string().min(1).describe("Account name"),
  api_key: secret(z.string().min(8), "API key"),
});

/**
 * A connector with a secret field, for the API tests: its connection test passes only with
 * the key "correct-horse-battery", so a test proves the stored secret survives edits.
 */
export class KeyedConnector extends BaseConnector<undefined, z.infer<typeof keyedConfigSchema>> {
  getMetadata() {
    return { name: "Keyed", version: "0.0.1", description: "Test connector with an API key", supportedEntities: ["things"] };
  }

  getConfigSchema() {
    return keyedConfigSchema;
  }

  async testConnection() {
    const ok = this.dataSource.config.api_key === "correct-horse-battery";
    return { success: ok, message: ok ? "key accepted" : "credentials rejected: wrong api_key" };
  }

  supportsResumableFetching() {
    return true;
  }

  async fetchEntityChunk(options: ResumableFetchOptions): Promise<FetchState> {
    await options.onBatch([{ id: 1, account: this.dataSource.config.account }]);
    return { hasMore: false };
  }
}
