import { Cron } from "croner";

/** A cron's fields, in order: what an error names. */
export const CRON_FIELDS = ["minute", "hour", "day of month", "month", "day of week"] as const;
const RANGES = ["0-59", "0-23", "1-31", "1-12 or JAN-DEC", "0-7 or SUN-SAT; 0 and 7 are Sunday"];
/** The nicknames croner reads as a standard five-field cron. */
const NICKNAMES = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];
const MAX_CRON_LENGTH = 200;
const MAX_ZONE_LENGTH = 64;

/** A cron or a time zone that cannot be scheduled; `field` is "cron" or "timezone". */
export class ScheduleInputError extends Error {
  readonly retryable = false;
  constructor(
    message: string,
    readonly field: "cron" | "timezone" | "misfire",
  ) {
    super(message);
  }
}

// Five fields, minute precision: croner's own "5-part" mode. Day of month and day of week are
// OR-ed, as in Vixie cron.
const options = (timezone: string) => ({ paused: true, timezone, mode: "5-part" as const });

/**
 * The cron as it will be stored (whitespace collapsed). Its error names the bad field: croner's
 * own messages often do not ("Syntax error, illegal stepping: 0", "configuration entry 1"), and
 * name day of month and month by a value one below the one written, so each field is first
 * parsed alone, with every other field `*`.
 */
export function validCron(input: string, timezone = "UTC"): string {
  if (typeof input !== "string") throw new ScheduleInputError("invalid cron: it must be a string", "cron");
  const shown = JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input);
  if (input.trim() === "") throw new ScheduleInputError(`invalid cron ${shown}: it is empty; give five fields: minute hour day-of-month month day-of-week, e.g. "30 2 * * *"`, "cron");
  if (input.length > MAX_CRON_LENGTH) throw new ScheduleInputError(`invalid cron ${shown}: longer than ${MAX_CRON_LENGTH} characters`, "cron");
  const cron = input.trim().split(/\s+/).join(" ");
  const fields = cron.split(" ");
  if (cron.startsWith("@")) {
    if (fields.length !== 1 || !NICKNAMES.includes(cron.toLowerCase())) {
      throw new ScheduleInputError(`invalid cron ${shown}: unknown nickname; use one of ${NICKNAMES.join(", ")}, or five fields`, "cron");
    }
  } else {
    if (fields.length !== 5) {
      throw new ScheduleInputError(
        `invalid cron ${shown}: it has ${fields.length} field${fields.length === 1 ? "" : "s"}; give five: minute hour day-of-month month day-of-week, e.g. "30 2 * * *"`,
        "cron",
      );
    }
    fields.forEach((field, i) => checkField(shown, field, i));
  }
  let next: Date | null;
  try {
    next = new Cron(cron, options(timezone)).nextRun();
  } catch (err) {
    throw new ScheduleInputError(`invalid cron ${shown}: ${reason(err)}`, "cron");
  }
  // Every field is valid alone, but together they name no date ("0 0 31 2 *").
  if (!next) throw new ScheduleInputError(`invalid cron ${shown}: day of month and month never meet, so it would never fire`, "cron");
  return cron;
}

function checkField(shown: string, field: string, index: number): void {
  const name = CRON_FIELDS[index];
  // croner reads "?" as "the value at the moment the cron is parsed": every scheduler (and
  // every tick) would read it differently.
  if (field.includes("?")) throw new ScheduleInputError(`invalid cron ${shown}: ${name} "${field}": "?" is not supported; use *`, "cron");
  const alone = CRON_FIELDS.map((_, i) => (i === index ? field : "*")).join(" ");
  try {
    new Cron(alone, options("UTC"));
  } catch (err) {
    const why = /Invalid value for/.test(reason(err)) ? `out of range (${RANGES[index]})` : reason(err);
    throw new ScheduleInputError(`invalid cron ${shown}: ${name} "${field}": ${why}`, "cron");
  }
}

/** croner's message without its prefixes. */
function reason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^CronPattern: /, "").replace(/^Syntax error, /, "");
}

/**
 * An IANA time zone as Intl spells it ("europe/paris" → "Europe/Paris"); anything else is an
 * error naming it.
 */
export function validTimeZone(input: string): string {
  if (typeof input !== "string") throw new ScheduleInputError("invalid time zone: it must be a string", "timezone");
  const shown = JSON.stringify(input.slice(0, MAX_ZONE_LENGTH));
  if (input.length === 0 || input.length > MAX_ZONE_LENGTH || !/^[A-Za-z0-9_+\-/]+$/.test(input)) {
    throw new ScheduleInputError(`invalid time zone ${shown}: give an IANA name such as Europe/Paris or UTC`, "timezone");
  }
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: input }).resolvedOptions().timeZone;
  } catch {
    throw new ScheduleInputError(`invalid time zone ${shown}: not a time zone this machine knows; give an IANA name such as Europe/Paris or UTC`, "timezone");
  }
}

/** The zone of this process: the default of a schedule set without one. */
export const localTimeZone = (): string => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/**
 * The first slot strictly after `after`, in the cron's zone. A time that a spring change skips
 * fires once at the first time after the gap (`30 2 * * *` in Europe/Paris at 03:00); a time
 * an autumn change repeats fires once, at its first occurrence (croner's fixed-time rule).
 */
export function nextSlot(cron: string, timezone: string, after: Date): Date | null {
  return new Cron(cron, options(timezone)).nextRun(after);
}

/** The next `count` slots after `after`. */
export function nextSlots(cron: string, timezone: string, after: Date, count: number): Date[] {
  return new Cron(cron, options(timezone)).nextRuns(count, after);
}
