const REDACTED = "***";

/** Header and query parameter names whose values are credentials. */
export const CREDENTIAL_NAME = /auth|token|key|secret|password|passwd|signature|sig$|credential|session|cookie/i;

/** Secrets shorter than this are not redacted: replacing "a" everywhere would garble messages. */
const MIN_SECRET_LENGTH = 3;

/**
 * Removes credentials from text shown to people (error messages, log lines): the secrets it
 * was given, the values of credential-looking headers and query parameters, and the URL's
 * password, in raw and URL-encoded forms.
 */
export class SecretRedactor {
  private readonly secrets: string[] = [];

  constructor(secrets: Iterable<string> = []) {
    for (const s of secrets) this.add(s);
  }

  add(secret: string | undefined): void {
    if (!secret || secret.length < MIN_SECRET_LENGTH) return;
    for (const form of [secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)]) {
      if (form.length >= MIN_SECRET_LENGTH && !this.secrets.includes(form)) this.secrets.push(form);
    }
    // Longest first, so a secret containing another is replaced whole.
    this.secrets.sort((a, b) => b.length - a.length);
  }

  /** Registers the values of credential-looking headers ("Bearer abc" adds "abc" too). */
  addFromHeaders(headers: Record<string, string> | undefined): void {
    for (const [name, value] of Object.entries(headers ?? {})) {
      if (!CREDENTIAL_NAME.test(name)) continue;
      this.add(value);
      const space = value.indexOf(" ");
      if (space > 0) this.add(value.slice(space + 1).trim());
    }
  }

  addFromQuery(query: Record<string, unknown> | undefined): void {
    for (const [name, value] of Object.entries(query ?? {})) {
      if (CREDENTIAL_NAME.test(name) && value !== undefined) this.add(String(value));
    }
  }

  /** A copy that also hides the credentials of one request's own headers and query. */
  forRequest(headers?: Record<string, string>, query?: Record<string, unknown>): SecretRedactor {
    if (!headers && !query) return this;
    const copy = new SecretRedactor();
    copy.secrets.push(...this.secrets);
    copy.addFromHeaders(headers);
    copy.addFromQuery(query);
    return copy;
  }

  text(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join(REDACTED);
    return out;
  }

  /** A URL fit to show: credential-looking parameters and the password masked, secrets removed. */
  url(url: URL | string): string {
    let shown: string;
    try {
      const u = new URL(url);
      if (u.password) u.password = REDACTED;
      for (const name of [...new Set(u.searchParams.keys())]) {
        if (CREDENTIAL_NAME.test(name)) u.searchParams.set(name, REDACTED);
      }
      shown = u.toString();
    } catch {
      shown = String(url);
    }
    return this.text(shown);
  }
}
