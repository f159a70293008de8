import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** True for addresses only this machine can reach: there the API needs no token. */
export function isLoopback(host: string): boolean {
  // An address, not a prefix: "127.0.0.1.attacker.example" is a name anyone can point anywhere.
  return host === "::1" || host === "localhost" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * The API token for a server bound beyond loopback: `MAKO_API_TOKEN`, else the one stored in
 * `$MAKO_HOME/api-token`, else a new one written there (mode 600). `created` says the caller
 * should print it once.
 */
export function resolveApiToken(home: string, env: NodeJS.ProcessEnv = process.env): { token: string; created: boolean } {
  const fromEnv = env.MAKO_API_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, created: false };
  const file = join(home, "api-token");
  if (existsSync(file)) {
    const stored = readFileSync(file, "utf8").trim();
    if (stored) return { token: stored, created: false };
  }
  const token = randomBytes(24).toString("base64url");
  mkdirSync(home, { recursive: true });
  writeFileSync(file, token + "\n", { mode: 0o600 });
  return { token, created: true };
}

/** Compares a request's `Authorization: Bearer …` with the token in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!match) return false;
  const given = Buffer.from(match[1].trim());
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
