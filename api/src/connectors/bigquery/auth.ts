import { createPrivateKey, sign, type KeyObject } from "node:crypto";
import type { HttpClient } from "../base/http";
import type { ServiceAccountKey } from "./config";

/** Reads data and runs queries, nothing else (jobs.query, getQueryResults, tables.get, tabledata.list). */
export const READ_ONLY_SCOPE = "https://www.googleapis.com/auth/bigquery.readonly";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/** Google accepts assertions that live at most an hour. */
const ASSERTION_SECONDS = 3600;

interface HeldToken {
  value: string;
  /** Epoch ms after which the token is replaced before use (ahead of its real expiry). */
  refreshAt: number;
}

/** The token endpoint refused the key: no retry will change that. */
export class KeyRejected extends Error {
  readonly retryable = false;
}

const base64url = (value: string | Buffer) => Buffer.from(value).toString("base64url");

/**
 * A service account's access tokens, per Google's server-to-server flow
 * (developers.google.com/identity/protocols/oauth2/service-account): an RS256-signed JWT
 * (iss = the account, aud = the key's token_uri, at most an hour long) exchanged at token_uri for
 * a Bearer token, held until shortly before it expires and replaced when the API answers 401.
 *
 * Signing uses node:crypto (RSASSA-PKCS1-v1_5 with SHA-256 is what RS256 is): a JWT library
 * would add a dependency for twenty lines of base64url and one `sign` call.
 */
export class ServiceAccountAuth {
  private readonly privateKey: KeyObject;
  private token?: Promise<HeldToken>;

  constructor(
    private readonly key: ServiceAccountKey,
    private readonly tokenClient: () => HttpClient,
    private readonly now: () => number = Date.now,
  ) {
    this.privateKey = createPrivateKey(key.private_key);
  }

  get account(): string {
    return this.key.client_email;
  }

  /** A valid access token, fetched once however many requests wait for it. */
  async accessToken(): Promise<string> {
    if (this.token) {
      const held = await this.token.catch(() => undefined);
      if (held && this.now() < held.refreshAt) return held.value;
      this.token = undefined;
    }
    this.token ??= this.requestToken();
    return (await this.token).value;
  }

  /** The API refused `used` (401): the next call fetches a new token, unless another call already did. */
  async invalidate(used: string): Promise<void> {
    const pending = this.token;
    const held = pending ? await pending.catch(() => undefined) : undefined;
    if (held?.value === used && this.token === pending) this.token = undefined;
  }

  /** The signed assertion: header.claims.signature, base64url-encoded. */
  assertion(nowSeconds = Math.floor(this.now() / 1000)): string {
    const header = { alg: "RS256", typ: "JWT", ...(this.key.private_key_id ? { kid: this.key.private_key_id } : {}) };
    const claims = {
      iss: this.key.client_email,
      scope: READ_ONLY_SCOPE,
      aud: this.key.token_uri,
      iat: nowSeconds,
      exp: nowSeconds + ASSERTION_SECONDS,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    return `${signingInput}.${base64url(sign("sha256", Buffer.from(signingInput), this.privateKey))}`;
  }

  private async requestToken(): Promise<HeldToken> {
    let body: { access_token?: unknown; expires_in?: unknown } | null;
    try {
      body = await this.tokenClient().post(this.key.token_uri, undefined, { form: { grant_type: JWT_BEARER, assertion: this.assertion() } });
    } catch (err) {
      const status = (err as { status?: number }).status;
      // 400/401 from the token endpoint: a deleted or wrong key, an unknown account, a bad clock.
      if (status === 400 || status === 401) throw new KeyRejected(`service account key rejected (${err.message})`, { cause: err });
      throw err;
    }
    if (typeof body?.access_token !== "string" || body.access_token === "") {
      throw new KeyRejected(`token endpoint ${new URL(this.key.token_uri).origin} answered without an access_token`);
    }
    const lifetimeMs = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in * 1000 : 3_600_000;
    // Replace it a little early (10% of its life, at most a minute) so none expires in flight.
    return { value: body.access_token, refreshAt: this.now() + lifetimeMs - Math.min(60_000, lifetimeMs * 0.1) };
  }
}
