import { z } from "zod";
import type { HttpClient } from "../http";
import { requestTarget, secret } from "../secret";
import { fields, oneOf, optionalText, requiredText, typed, urlText } from "./configIssues";

const authTypes = ["none", "bearer", "basic", "api_key", "oauth2_client_credentials"] as const;

export const authSchema = typed(authTypes, [
  fields({ type: z.literal("none") }),
  fields({ type: z.literal("bearer"), token: secret(requiredText(), "Bearer token") }),
  fields({ type: z.literal("basic"), username: requiredText(), password: secret(z.string({ error: "required" }), "Password") }),
  fields({
    type: z.literal("api_key"),
    name: requiredText().describe("Header or query parameter name, e.g. X-API-Key"),
    api_key: secret(requiredText(), "The API key"),
    in: oneOf(["header", "query"]).default("header"),
  }),
  fields({
    type: z.literal("oauth2_client_credentials"),
    token_url: requestTarget(urlText()),
    client_id: requiredText(),
    client_secret: secret(requiredText(), "OAuth2 client secret"),
    scope: optionalText(),
    audience: optionalText(),
    /** RFC 6749 §2.3.1: HTTP Basic is the method servers must support; some want the body. */
    client_auth: oneOf(["basic", "body"]).default("basic"),
  }),
]);

export type AuthConfig = z.infer<typeof authSchema>;

interface TokenResponse {
  access_token?: unknown;
  expires_in?: unknown;
}

interface HeldToken {
  value: string;
  /** Epoch ms after which the token is refreshed before use (ahead of its real expiry). */
  refreshAt: number;
}

/**
 * Applies a data source's auth to requests. Static kinds become fixed headers or query
 * parameters of the HTTP client; OAuth2 client credentials fetches a token, refreshes it
 * shortly before it expires, and once more when the API answers 401 (revoked or rotated).
 */
export class RequestAuth {
  private token?: Promise<HeldToken>;

  constructor(
    private readonly config: AuthConfig,
    private readonly tokenClient: () => HttpClient,
    private readonly now: () => number = Date.now,
  ) {}

  fixedHeaders(): Record<string, string> {
    const c = this.config;
    if (c.type === "bearer") return { Authorization: `Bearer ${c.token}` };
    if (c.type === "basic") return { Authorization: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}` };
    if (c.type === "api_key" && c.in === "header") return { [c.name]: c.api_key };
    return {};
  }

  fixedQuery(): Record<string, string> {
    const c = this.config;
    return c.type === "api_key" && c.in === "query" ? { [c.name]: c.api_key } : {};
  }

  /** Values to redact from every log line and error. */
  secrets(): string[] {
    const c = this.config;
    if (c.type === "bearer") return [c.token];
    if (c.type === "basic") return [c.password, Buffer.from(`${c.username}:${c.password}`).toString("base64")].filter(Boolean);
    if (c.type === "api_key") return [c.api_key];
    if (c.type === "oauth2_client_credentials") return [c.client_secret];
    return [];
  }

  /** Runs one request with the current credentials; with OAuth2, retries once after a 401. */
  async send<T>(attempt: (headers: Record<string, string>) => Promise<T>): Promise<T> {
    if (this.config.type !== "oauth2_client_credentials") return attempt({});
    const used = await this.currentToken();
    try {
      return await attempt({ Authorization: `Bearer ${used.value}` });
    } catch (err) {
      if ((err as { status?: number }).status !== 401) throw err;
      // Another request may already have refreshed it; only drop the token we used.
      const current = this.token ? await this.token.catch(() => undefined) : undefined;
      if (current === used) this.token = undefined;
      const fresh = await this.currentToken();
      return attempt({ Authorization: `Bearer ${fresh.value}` });
    }
  }

  private async currentToken(): Promise<HeldToken> {
    if (this.token) {
      const held = await this.token.catch(() => undefined);
      if (held && this.now() < held.refreshAt) return held;
      this.token = undefined;
    }
    // One token request in flight at a time, however many requests wait for it.
    this.token ??= this.requestToken();
    return this.token;
  }

  private async requestToken(): Promise<HeldToken> {
    const c = this.config;
    if (c.type !== "oauth2_client_credentials") throw new Error("no token for this auth type");
    const form: Record<string, string> = { grant_type: "client_credentials" };
    if (c.scope) form.scope = c.scope;
    if (c.audience) form.audience = c.audience;
    const headers: Record<string, string> = {};
    if (c.client_auth === "body") {
      form.client_id = c.client_id;
      form.client_secret = c.client_secret;
    } else {
      const pair = `${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`;
      headers.Authorization = `Basic ${Buffer.from(pair).toString("base64")}`;
    }
    const response = await this.tokenClient().request<TokenResponse>({ method: "POST", path: c.token_url, form, headers });
    const { access_token, expires_in } = response.body ?? {};
    if (typeof access_token !== "string" || access_token === "") {
      throw Object.assign(new Error(`OAuth2 token endpoint ${c.token_url} answered without an access_token`), { retryable: false });
    }
    const lifetimeMs = typeof expires_in === "number" && expires_in > 0 ? expires_in * 1000 : Infinity;
    // Refresh a little early (10% of the lifetime, at most a minute) so no request carries a
    // token that expires on its way.
    const margin = Math.min(60_000, lifetimeMs * 0.1);
    return { value: access_token, refreshAt: this.now() + lifetimeMs - margin };
  }
}
