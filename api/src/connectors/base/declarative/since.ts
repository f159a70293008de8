import type { Since } from "../types";
import { oneOf } from "./configIssues";

export const sinceFormats = ["iso", "epoch", "epoch_ms", "date", "raw"] as const;
export type SinceFormat = (typeof sinceFormats)[number];
export const sinceFormatSchema = () => oneOf(sinceFormats).default("iso");

/**
 * Formats the incremental high-water mark the way the API wants it. Numbers are epoch
 * seconds (the SDK's convention); `raw` passes the mark through (sequence numbers, ids).
 */
export function formatSince(since: Since, format: SinceFormat): string {
  if (format === "raw") return String(since);
  const ms = typeof since === "number" ? since * 1000 : /^\d+(\.\d+)?$/.test(since) ? Number(since) * 1000 : Date.parse(since);
  if (Number.isNaN(ms)) throw Object.assign(new Error(`incremental mark "${since}" is not a timestamp; use format "raw"`), { retryable: false });
  const date = new Date(ms);
  switch (format) {
    case "iso":
      return date.toISOString();
    case "epoch":
      return String(Math.floor(ms / 1000));
    case "epoch_ms":
      return String(Math.floor(ms));
    case "date":
      return date.toISOString().slice(0, 10);
  }
}
