import type { z } from "zod";
import { type ConfigPath, configMarks, pathKey, valueAt } from "../connectors/base/configMarks";

export const REDACTED = "********";

/** The secret fields of a config, as its connector's schema says (see configMarks). */
export function secretPaths(schema: z.ZodType, config: unknown): ConfigPath[] {
  return configMarks(schema, config)
    .secrets.filter((m) => m.present)
    .map((m) => m.path);
}

/**
 * A copy of a config with every secret value replaced by REDACTED (for printing), or removed
 * (`remove`, for the API, which lists secrets apart). Only the objects on the way to a secret
 * are copied: no recursion over the config, whatever its depth.
 */
export function redactConfig(config: Record<string, unknown>, paths: ConfigPath[], mode: "mask" | "remove" = "mask"): Record<string, unknown> {
  let out = config;
  for (const path of paths) {
    const value = valueAt(out, path);
    if (value === undefined || value === null || value === "") continue;
    out = withValueAt(out, path, mode === "remove" ? undefined : REDACTED) as Record<string, unknown>;
  }
  return out;
}

/** A copy of `root` with `value` at `path` (undefined removes it), copying only the objects on the path. */
export function withValueAt(root: unknown, path: ConfigPath, value: unknown): unknown {
  if (path.length === 0) return value;
  const [key, ...rest] = path;
  const container = Array.isArray(root) ? [...root] : { ...(root as Record<string | number, unknown>) };
  const next = withValueAt((root as Record<string | number, unknown>)?.[key], rest, value);
  if (next === undefined && rest.length === 0 && !Array.isArray(container)) delete (container as Record<string | number, unknown>)[key];
  else (container as Record<string | number, unknown>)[key] = next;
  return container;
}

/** Which secrets a config holds, by path (`api_key`, `auth.token`): for the API's `secrets`. */
export function secretStates(schema: z.ZodType, config: unknown): Record<string, "set" | "unset"> {
  const states: Record<string, "set" | "unset"> = {};
  for (const m of configMarks(schema, config).secrets) {
    // Declared but absent: only top-level fields are worth listing (nested ones belong to a
    // variant the config did not choose).
    if (!m.present && m.path.length > 1) continue;
    const v = m.present ? valueAt(config, m.path) : undefined;
    states[pathKey(m.path)] = v === undefined || v === null || v === "" ? "unset" : "set";
  }
  return states;
}

/** Query parameters of a connection URL that carry a password (pg and mysql2 read them). */
const URL_SECRET_PARAMS = /^(password|passwd|sslpassword|pass)$/i;

/** A destination's connection URL fit to show: the password (in the authority or the query) masked. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not a URL (a file path), or one node cannot parse: mask what looks like user:password@.
    return url.replace(/\/\/([^:/@]*):([^@]*)@/, `//$1:${REDACTED}@`);
  }
  if (parsed.protocol === "file:") return url;
  if (parsed.password) parsed.password = REDACTED;
  for (const name of [...new Set(parsed.searchParams.keys())]) if (URL_SECRET_PARAMS.test(name)) parsed.searchParams.set(name, REDACTED);
  return parsed.toString();
}
