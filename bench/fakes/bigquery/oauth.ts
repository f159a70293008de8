// Google's OAuth 2.0 token endpoint for service accounts, as the BigQuery fake serves it
// (https://developers.google.com/identity/protocols/oauth2/service-account, "Preparing to make
// an authorized API call" / HTTP/REST): the client POSTs
//   grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>
// where the JWT's header is {"alg":"RS256","typ":"JWT"} (with the key id as `kid`), its claims
// are iss (the service account's email), scope (space-delimited), aud (the token endpoint, the
// key file's `token_uri`), iat and exp (at most one hour after iat), and its signature is
// RSASSA-PKCS1-v1_5 with SHA-256 by the key file's private key. The answer is
//   {"access_token": "…", "expires_in": 3599, "token_type": "Bearer"}
// and errors are RFC 6749 §5.2 bodies, e.g. 400 {"error":"invalid_grant","error_description":"Invalid JWT Signature."}.
import { generateKeyPairSync, randomBytes, verify, type KeyObject } from "node:crypto";

export const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** The scopes that let a token call the BigQuery REST API. A read-only token may run jobs.query
 * and read results and tables (https://stackoverflow.com/questions/25967245, answered by the
 * BigQuery team: jobs.query, jobs.getQueryResults, tables.get, tabledata.list are allowed). */
export const BIGQUERY_SCOPES = new Set([
  "https://www.googleapis.com/auth/bigquery",
  "https://www.googleapis.com/auth/bigquery.readonly",
  "https://www.googleapis.com/auth/cloud-platform",
  "https://www.googleapis.com/auth/cloud-platform.read-only",
]);

/** The JSON key file the Cloud console hands out ("Keys → Add key → JSON"). */
export interface ServiceAccountKeyFile {
  type: "service_account";
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
  auth_provider_x509_cert_url: string;
  client_x509_cert_url: string;
  universe_domain: string;
}

interface HeldKey {
  id: string;
  email: string;
  publicKey: KeyObject;
  revoked: boolean;
}

export interface IssuedToken {
  email: string;
  scopes: Set<string>;
  expiresAt: number;
}

type TokenAnswer = { status: number; body: unknown };

const oauthError = (error: string, description: string, status = 400): TokenAnswer => ({ status, body: { error, error_description: description } });

function base64urlJson(part: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The service accounts of the fake's projects, their keys, and the access tokens handed out. */
export class TokenService {
  private readonly keys = new Map<string, HeldKey>();
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(
    private readonly tokenUri: () => string,
    private readonly lifetimeSeconds: number,
  ) {}

  /**
   * Creates a key the way the console does: Google generates the RSA pair, keeps the public
   * part and hands out the private part in the JSON key file.
   */
  createKey(projectId: string, accountName = "mako-sync"): ServiceAccountKeyFile {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const id = randomBytes(20).toString("hex");
    const email = `${accountName}@${projectId}.iam.gserviceaccount.com`;
    this.keys.set(id, { id, email, publicKey, revoked: false });
    return {
      type: "service_account",
      project_id: projectId,
      private_key_id: id,
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: email,
      client_id: String(BigInt(`0x${id.slice(0, 15)}`)),
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: this.tokenUri(),
      auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
      universe_domain: "googleapis.com",
    };
  }

  /** Deletes a key: JWTs it signs are refused; tokens already issued live until they expire. */
  revokeKey(keyId: string): void {
    const key = this.keys.get(keyId);
    if (key) key.revoked = true;
  }

  /** Every access token handed out expires now (as an hour passing would). */
  expireTokens(): void {
    for (const t of this.tokens.values()) t.expiresAt = 0;
  }

  /** The grant an access token carries, or undefined when it is unknown or expired. */
  tokenFor(accessToken: string): IssuedToken | undefined {
    const t = this.tokens.get(accessToken);
    return t && Date.now() < t.expiresAt ? t : undefined;
  }

  /** POST token_uri with a form body. */
  exchange(form: URLSearchParams): TokenAnswer {
    const grantType = form.get("grant_type") ?? "";
    if (grantType !== JWT_BEARER) return oauthError("unsupported_grant_type", `Invalid grant_type: ${grantType}`);
    const assertion = form.get("assertion") ?? "";
    const parts = assertion.split(".");
    const header = parts.length === 3 ? base64urlJson(parts[0]) : undefined;
    const claims = parts.length === 3 ? base64urlJson(parts[1]) : undefined;
    if (!header || !claims) return oauthError("invalid_request", "Invalid JWT: not a JSON Web Token.");
    if (header.alg !== "RS256") return oauthError("invalid_grant", "Invalid JWT Signature.");
    const email = claims.iss;
    const candidates = [...this.keys.values()].filter((k) => k.email === email && (header.kid === undefined || k.id === header.kid));
    if (![...this.keys.values()].some((k) => k.email === email)) return oauthError("invalid_grant", "Invalid grant: account not found");
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2], "base64url");
    const key = candidates.find((k) => !k.revoked && verify("sha256", signed, k.publicKey, signature));
    if (!key) return oauthError("invalid_grant", "Invalid JWT Signature.");
    if (claims.aud !== this.tokenUri()) {
      return oauthError("invalid_grant", `Invalid JWT: Failed audience check. The right audience is ${this.tokenUri()}`);
    }
    const now = Date.now() / 1000;
    const { iat, exp } = claims;
    // Google allows some clock skew; the lifetime must be at most an hour.
    if (typeof iat !== "number" || typeof exp !== "number" || exp - iat > 3600 || exp < now || iat > now + 300) {
      return oauthError(
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
      );
    }
    const scopes = typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : [];
    if (scopes.length === 0 || scopes.some((s) => !/^https:\/\/www\.googleapis\.com\/auth\/[\w.-]+$/.test(s))) {
      return oauthError("invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    }
    const accessToken = `ya29.fake-${randomBytes(24).toString("base64url")}`;
    this.tokens.set(accessToken, { email: key.email, scopes: new Set(scopes), expiresAt: Date.now() + this.lifetimeSeconds * 1000 });
    return { status: 200, body: { access_token: accessToken, expires_in: this.lifetimeSeconds - 1, token_type: "Bearer" } };
  }
}
