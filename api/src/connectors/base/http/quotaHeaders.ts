/** What the server says is left of its quota: `remaining` requests until `resetMs` from now. */
export interface QuotaHint {
  remaining: number;
  resetMs: number;
  /** The header family it came from, for log lines. */
  source: string;
}

/**
 * A reset value as servers send it: seconds from now, epoch seconds (GitHub, GitLab; with a
 * fraction for Discord) or epoch milliseconds. Told apart by magnitude.
 */
export function resetToMs(value: number, now = Date.now()): number {
  if (value > 1e12) return Math.max(0, value - now);
  if (value > 1e9) return Math.max(0, value * 1000 - now);
  return Math.max(0, value * 1000);
}

function num(text: string | null | undefined): number | undefined {
  if (text == null || text.trim() === "") return undefined;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : undefined;
}

/** The most restrictive of several hints: the one with the fewest requests left, longest reset on ties. */
function tightest(hints: QuotaHint[]): QuotaHint | undefined {
  let best: QuotaHint | undefined;
  for (const h of hints) {
    if (!best || h.remaining < best.remaining || (h.remaining === best.remaining && h.resetMs > best.resetMs)) best = h;
  }
  return best;
}

/**
 * IETF `RateLimit` field. Draft 08 and later: a list of `"policy";r=<remaining>;t=<seconds>`
 * items; draft 07: a dictionary `limit=10, remaining=5, reset=30`.
 */
function parseIetfRateLimit(field: string, now: number): QuotaHint[] {
  const hints: QuotaHint[] = [];
  const dictionary: Record<string, number> = {};
  for (const member of field.split(",")) {
    const params: Record<string, string> = {};
    for (const part of member.split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0) params[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
    }
    const r = num(params.r);
    if (r !== undefined) {
      hints.push({ remaining: r, resetMs: resetToMs(num(params.t) ?? 0, now), source: "RateLimit" });
      continue;
    }
    for (const key of ["remaining", "reset"]) {
      const v = num(params[key]);
      if (v !== undefined) dictionary[key] = v;
    }
  }
  if (dictionary.remaining !== undefined) {
    hints.push({ remaining: dictionary.remaining, resetMs: resetToMs(dictionary.reset ?? 0, now), source: "RateLimit" });
  }
  return hints;
}

/**
 * Reads the quota a response advertises: `X-RateLimit-Remaining`/`-Reset` (or `-Reset-After`),
 * `RateLimit-Remaining`/`-Reset` (IETF drafts up to 06), or the IETF `RateLimit` field.
 * Undefined when the response says nothing usable.
 */
export function parseQuotaHeaders(headers: Headers, now = Date.now()): QuotaHint | undefined {
  const hints: QuotaHint[] = [];

  const xRemaining = num(headers.get("x-ratelimit-remaining"));
  if (xRemaining !== undefined) {
    const after = num(headers.get("x-ratelimit-reset-after"));
    const reset = num(headers.get("x-ratelimit-reset"));
    const resetMs = after !== undefined ? after * 1000 : reset !== undefined ? resetToMs(reset, now) : undefined;
    if (resetMs !== undefined) hints.push({ remaining: xRemaining, resetMs, source: "X-RateLimit" });
  }

  const remaining = num(headers.get("ratelimit-remaining"));
  const reset = num(headers.get("ratelimit-reset"));
  if (remaining !== undefined && reset !== undefined) {
    hints.push({ remaining, resetMs: resetToMs(reset, now), source: "RateLimit-Remaining" });
  }

  const field = headers.get("ratelimit");
  if (field) hints.push(...parseIetfRateLimit(field, now));

  return tightest(hints);
}

/** A pace a server advertises: `burst` requests per window, i.e. `requestsPerSecond` on average. */
export interface QuotaPolicy {
  requestsPerSecond: number;
  burst: number;
  source: string;
}

/** Windows longer than this (hourly, daily quotas) are left to the remaining/reset pause. */
const PACING_WINDOW_MAX_S = 60;

/**
 * The tightest short-window policy of `RateLimit-Policy` (draft 08+: `"name";q=100;w=60`;
 * earlier drafts: `100;w=60`, also inside `RateLimit-Limit`). Undefined when none applies.
 */
export function parseQuotaPolicy(headers: Headers): QuotaPolicy | undefined {
  let best: QuotaPolicy | undefined;
  for (const name of ["ratelimit-policy", "ratelimit-limit"]) {
    const field = headers.get(name);
    if (!field) continue;
    for (const member of field.split(",")) {
      const [head, ...rest] = member.split(";").map((p) => p.trim());
      const params: Record<string, string> = {};
      for (const part of rest) {
        const eq = part.indexOf("=");
        if (eq > 0) params[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
      }
      const quota = num(params.q) ?? num(head);
      const window = num(params.w);
      if (quota === undefined || window === undefined || quota <= 0 || window <= 0 || window > PACING_WINDOW_MAX_S) continue;
      const policy = { requestsPerSecond: quota / window, burst: Math.max(1, Math.floor(quota)), source: name === "ratelimit-policy" ? "RateLimit-Policy" : "RateLimit-Limit" };
      if (!best || policy.requestsPerSecond < best.requestsPerSecond) best = policy;
    }
  }
  return best;
}
