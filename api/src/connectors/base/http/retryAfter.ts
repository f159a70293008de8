/**
 * Milliseconds to wait from a `Retry-After` value: delay-seconds ("120", "0", "1.5") or an
 * HTTP date. Undefined when absent or unreadable; never negative (a date in the past is 0).
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
