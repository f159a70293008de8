import { ValidationError } from "../Mako";

const DEFAULT_DAYS = 7;
const MAX_DAYS = 3650;

/**
 * How long applied webhook events are kept (MAKO_WEBHOOK_RETENTION_DAYS, default 7): long enough
 * to see what arrived and to answer a vendor's redelivery of an old event as a duplicate. Events
 * not yet applied are kept whatever their age.
 */
export function retentionDays(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.MAKO_WEBHOOK_RETENTION_DAYS;
  if (text === undefined || text === "") return DEFAULT_DAYS;
  const days = Number(text);
  if (!Number.isFinite(days) || days < 0 || days > MAX_DAYS) {
    throw new ValidationError(`MAKO_WEBHOOK_RETENTION_DAYS must be a number of days from 0 to ${MAX_DAYS} (got "${text.slice(0, 20)}")`, "MAKO_WEBHOOK_RETENTION_DAYS");
  }
  return days;
}

/** How often the applier (or a worker) prunes. */
export const PRUNE_EVERY_MS = 3600_000;

/** The ISO time before which applied events go. */
export const pruneBefore = (days: number, now = Date.now()) => new Date(now - days * 86400_000).toISOString();
