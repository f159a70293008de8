import type { z } from "zod";
import { type ConfigPath, configMarks, pathKey, valueAt } from "../connectors/base/configMarks";
import { REDACTED, withValueAt } from "./redact";

/** A config change that would send stored secrets somewhere new: `fields` must be entered again. */
export class SecretsMustBeReenteredError extends Error {
  readonly retryable = false;
  constructor(
    readonly changed: string[],
    readonly fields: string[],
  ) {
    super(
      `changing ${changed.join(", ")} changes where requests go: enter ${fields.join(", ")} again ` +
        `(stored secrets are only sent where they were entered)`,
    );
  }
}

/** A secret left out of an edit: absent, empty, or the placeholder it was shown as. */
const leftOut = (v: unknown) => v === undefined || v === "" || v === REDACTED;

/**
 * The config an edit asks for, with stored secrets put back where the edit leaves them out —
 * unless the edit also changes a field that decides where requests go (a base URL, a host, a
 * region, a token URL): then every secret it would reuse must be entered again, and
 * SecretsMustBeReenteredError names them. `validate` applies the schema (defaults included),
 * so "changed" compares what the connector would actually use.
 */
export function applyConfigEdit(
  schema: z.ZodType,
  stored: Record<string, unknown>,
  edit: Record<string, unknown>,
  validate: (config: unknown) => Record<string, unknown>,
): Record<string, unknown> {
  const storedMarks = configMarks(schema, stored);
  const declared = new Set(configMarks(schema, edit).secrets.map((m) => pathKey(m.path)));
  let merged: Record<string, unknown> = edit;
  const reused: ConfigPath[] = [];
  for (const secret of storedMarks.secrets) {
    if (!secret.present) continue;
    const storedValue = valueAt(stored, secret.path);
    if (storedValue === undefined || storedValue === "") continue;
    const given = valueAt(edit, secret.path);
    if (!leftOut(given)) continue;
    // Put back only where the edited config still has a place for it: an auth of another
    // type, or a header map that was removed, does not get the old secret.
    const parent = valueAt(edit, secret.path.slice(0, -1));
    const fits =
      given === REDACTED ||
      declared.has(pathKey(secret.path)) ||
      (secret.by !== "schema" && typeof parent === "object" && parent !== null);
    if (!fits) continue;
    merged = withValueAt(merged, secret.path, storedValue) as Record<string, unknown>;
    reused.push(secret.path);
  }
  const config = validate(merged);
  if (reused.length === 0) return config;
  const changed = changedTargets(schema, stored, config);
  if (changed.length > 0) throw new SecretsMustBeReenteredError(changed, reused.map(pathKey));
  return config;
}

/** Request-target fields whose value differs between two (validated) configs. */
export function changedTargets(schema: z.ZodType, before: unknown, after: unknown): string[] {
  const paths = new Map<string, ConfigPath>();
  for (const m of [...configMarks(schema, before).targets, ...configMarks(schema, after).targets]) paths.set(pathKey(m.path), m.path);
  const changed: string[] = [];
  for (const [key, path] of paths) {
    if (JSON.stringify(valueAt(before, path)) !== JSON.stringify(valueAt(after, path))) changed.push(key);
  }
  return changed;
}

/** Query parameters of a connection URL that carry its password. */
const PASSWORD_PARAMS = ["password", "passwd", "pass", "sslpassword"];

/**
 * A destination's new connection URL, keeping the stored password when the new one leaves it
 * out (or shows it masked) and still points at the same server; a new host or port without
 * the password is refused.
 */
export function applyDestinationUrlEdit(name: string, stored: string, next: string): string {
  let before: URL;
  let after: URL;
  try {
    before = new URL(stored);
    after = new URL(next);
  } catch {
    return next; // file paths (sqlite, duckdb) hold no password
  }
  const storedSecrets = passwordsOf(before);
  // A password given in clear is a password entered again: the new URL stands as it is.
  if (storedSecrets.size === 0 || [...passwordsOf(after).values()].some((v) => !leftOut(v))) return next;
  if (before.protocol !== after.protocol || before.host !== after.host) {
    throw new SecretsMustBeReenteredError([`the server of destination "${name}" (${before.host} → ${after.host})`], ["the URL's password"]);
  }
  for (const [key, value] of storedSecrets) {
    if (key === "@") after.password = encodeURIComponent(value);
    else after.searchParams.set(key, value);
  }
  return after.toString();
}

/** A URL's passwords: `@` for the one in the authority, else by query parameter name. */
function passwordsOf(url: URL): Map<string, string> {
  const found = new Map<string, string>();
  if (url.password) found.set("@", decodeURIComponent(url.password));
  for (const [k, v] of url.searchParams) if (PASSWORD_PARAMS.includes(k.toLowerCase())) found.set(k, v);
  return found;
}
