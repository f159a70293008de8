import { describe, expect, it } from "vitest";
import { nextSlot, nextSlots, ScheduleInputError, validCron, validTimeZone } from "../../src/schedules/cron";
import { decideSlot, MISFIRE_GRACE_MS } from "../../src/schedules/misfire";
import { claimStep, type ScheduleRecord } from "../../src/store/ScheduleStore";

const iso = (d: Date | null) => d?.toISOString() ?? null;

function inputError(run: () => unknown): ScheduleInputError {
  try {
    run();
  } catch (err) {
    if (err instanceof ScheduleInputError) return err;
    throw err;
  }
  throw new Error("no error");
}

describe("cron input", () => {
  it("names the bad field, each checked alone (croner's own messages do not say, or say another value)", () => {
    const cases: [string, RegExp][] = [
      ["61 * * * *", /^invalid cron "61 \* \* \* \*": minute "61": out of range \(0-59\)$/],
      ["0 24 * * *", /: hour "24": out of range \(0-23\)$/],
      ["0 0 32 * *", /: day of month "32": out of range \(1-31\)$/],
      ["0 0 0 * *", /: day of month "0": out of range \(1-31\)$/],
      ["0 0 * 13 *", /: month "13": out of range \(1-12 or JAN-DEC\)$/],
      ["0 0 * * 8", /: day of week "8": out of range/],
      // croner: "Syntax error, illegal stepping: 0" — no field named.
      ["*/0 * * * *", /: minute "\*\/0": illegal stepping: 0$/],
      // croner: "configuration entry 2 (x) contains illegal characters".
      ["0 x * * *", /: hour "x": /],
      ["0 5-1 * * *", /: hour "5-1": /],
      ["0 0 * FOO *", /: month "FOO": /],
      ["0 0 * * MON-XYZ", /: day of week "MON-XYZ": /],
      ["0 0 1/5 * *", /: day of month "1\/5": /],
      ["? * * * *", /: minute "\?": "\?" is not supported; use \*$/],
    ];
    for (const [cron, message] of cases) {
      const err = inputError(() => validCron(cron));
      expect(err.message, cron).toMatch(message);
      expect(err.message.split("\n"), cron).toHaveLength(1);
      expect(err.field).toBe("cron");
    }
  });

  it("refuses wrong field counts, unknown nicknames, an empty or oversized cron, and one that never fires", () => {
    expect(inputError(() => validCron("* * *")).message).toMatch(/it has 3 fields; give five: minute hour day-of-month month day-of-week/);
    expect(inputError(() => validCron("0 0 * * * *")).message).toMatch(/it has 6 fields/);
    expect(inputError(() => validCron("   ")).message).toMatch(/it is empty/);
    expect(inputError(() => validCron("@reboot")).message).toMatch(/unknown nickname; use one of @yearly/);
    expect(inputError(() => validCron("1,".repeat(150) + " * * * *")).message).toMatch(/longer than 200 characters/);
    expect(inputError(() => validCron("0 0 31 2 *")).message).toMatch(/day of month and month never meet, so it would never fire/);
  });

  it("accepts standard crons, names and nicknames, and stores them with single spaces", () => {
    expect(validCron("  30   2 * * *  ")).toBe("30 2 * * *");
    expect(validCron("0 9-17/2 * * MON-FRI")).toBe("0 9-17/2 * * MON-FRI");
    expect(validCron("0 0 L * *")).toBe("0 0 L * *");
    expect(validCron("@daily")).toBe("@daily");
    expect(validCron("0 0 * * 7")).toBe("0 0 * * 7");
  });

  it("checks time zones by name, canonical spelling kept", () => {
    expect(validTimeZone("Europe/Paris")).toBe("Europe/Paris");
    expect(validTimeZone("UTC")).toBe("UTC");
    expect(validTimeZone("europe/paris")).toBe("Europe/Paris");
    for (const bad of ["Mars/Olympus", "", "Europe/Paris; DROP TABLE x", "x".repeat(65)]) {
      const err = inputError(() => validTimeZone(bad));
      expect(err.field).toBe("timezone");
      expect(err.message).toMatch(/^invalid time zone ".*": /);
    }
  });
});

describe("slots across daylight saving changes (30 2 * * * in Europe/Paris)", () => {
  const cron = "30 2 * * *";
  const zone = "Europe/Paris";

  it("spring (2025-03-30, 02:00 → 03:00): the missing 02:30 runs once, at 03:00 CEST", () => {
    const slots = nextSlots(cron, zone, new Date("2025-03-28T12:00:00Z"), 4).map(iso);
    expect(slots).toEqual([
      "2025-03-29T01:30:00.000Z", // 02:30 CET
      "2025-03-30T01:00:00.000Z", // 03:00 CEST: 02:30 does not exist that night
      "2025-03-31T00:30:00.000Z", // 02:30 CEST
      "2025-04-01T00:30:00.000Z",
    ]);
  });

  it("autumn (2025-10-26, 03:00 → 02:00): the doubled 02:30 runs once, at its first occurrence", () => {
    const slots = nextSlots(cron, zone, new Date("2025-10-24T12:00:00Z"), 4).map(iso);
    expect(slots).toEqual([
      "2025-10-25T00:30:00.000Z", // 02:30 CEST
      "2025-10-26T00:30:00.000Z", // 02:30 CEST, the first 02:30 of the night
      "2025-10-27T01:30:00.000Z", // 02:30 CET; the second 02:30 (01:30Z on the 26th) is not a slot
      "2025-10-28T01:30:00.000Z",
    ]);
    // A scheduler that fired the first 02:30 and looks again during the second one finds no slot there.
    expect(iso(nextSlot(cron, zone, new Date("2025-10-26T00:30:00Z")))).toBe("2025-10-27T01:30:00.000Z");
    expect(iso(nextSlot(cron, zone, new Date("2025-10-26T01:29:59Z")))).toBe("2025-10-27T01:30:00.000Z");
  });

  it("a scheduler ticking every 10 minutes through both change days fires once each day", () => {
    for (const [from, to, expected] of [
      ["2025-03-29T00:00:00Z", "2025-04-01T00:00:00Z", ["2025-03-29T01:30:00.000Z", "2025-03-30T01:00:00.000Z", "2025-03-31T00:30:00.000Z"]],
      ["2025-10-25T00:00:00Z", "2025-10-28T00:00:00Z", ["2025-10-25T00:30:00.000Z", "2025-10-26T00:30:00.000Z", "2025-10-27T01:30:00.000Z"]],
    ] as const) {
      let schedule = record({ cron, timezone: zone, nextFireAt: iso(nextSlot(cron, zone, new Date(from))) });
      const fired: string[] = [];
      for (let t = Date.parse(from); t < Date.parse(to); t += 10 * 60_000) {
        const { write, fire } = claimStep(schedule, new Date(t), (s, now) => decideSlot(s, now));
        if (fire) fired.push(fire.slot!);
        schedule = { ...schedule, ...write };
      }
      expect(fired).toEqual(expected);
    }
  });
});

describe("misfire after an outage", () => {
  const outage = { cron: "0 * * * *", timezone: "UTC", nextFireAt: "2025-01-01T00:00:00.000Z" };
  const back = new Date("2025-01-03T10:20:00Z"); // 58 slots missed

  it("coalesce: the missed slots fire once, and the next slot is the first after now", () => {
    const { write, fire } = claimStep(record({ ...outage, misfire: "coalesce" }), back, (s, now) => decideSlot(s, now));
    expect(fire?.slot).toBe("2025-01-01T00:00:00.000Z");
    expect(write).toMatchObject({ nextFireAt: "2025-01-03T11:00:00.000Z", lastFireAt: back.toISOString(), skipped: 0 });
  });

  it("skip: a slot missed by more than the grace period does not fire; one late by less does", () => {
    const skipped = claimStep(record({ ...outage, misfire: "skip" }), back, (s, now) => decideSlot(s, now));
    expect(skipped.fire).toBeNull();
    expect(skipped.write).toMatchObject({ nextFireAt: "2025-01-03T11:00:00.000Z", lastFireAt: null, skipped: 1 });

    const late = new Date(Date.parse("2025-01-03T10:00:00Z") + MISFIRE_GRACE_MS - 1000);
    const onTime = claimStep(record({ ...outage, nextFireAt: "2025-01-03T10:00:00.000Z", misfire: "skip" }), late, (s, now) => decideSlot(s, now));
    expect(onTime.fire?.slot).toBe("2025-01-03T10:00:00.000Z");
    const tooLate = new Date(Date.parse("2025-01-03T10:00:00Z") + MISFIRE_GRACE_MS + 1000);
    expect(claimStep(record({ ...outage, nextFireAt: "2025-01-03T10:00:00.000Z", misfire: "skip" }), tooLate, (s, now) => decideSlot(s, now)).fire).toBeNull();
  });

  it("a slot not reached yet is left alone; a pending fire is claimed with it, counted as coalesced", () => {
    const early = claimStep(record({ ...outage }), new Date("2024-12-31T23:59:59Z"), () => {
      throw new Error("not due: decide must not be asked");
    });
    expect(early.fire).toBeNull();
    const merged = claimStep(record({ ...outage, pending: true, coalesced: 2 }), back, (s, now) => decideSlot(s, now));
    expect(merged.fire).not.toBeNull();
    expect(merged.write).toMatchObject({ pending: false, coalesced: 3 });
  });
});

function record(patch: Partial<ScheduleRecord>): ScheduleRecord {
  return {
    source: "shop",
    cron: "0 * * * *",
    timezone: "UTC",
    misfire: "coalesce",
    paused: false,
    nextFireAt: null,
    lastFireAt: null,
    lastRunId: null,
    lastError: null,
    pending: false,
    coalesced: 0,
    skipped: 0,
    createdAt: "2025-01-01T00:00:00.000Z",
    updatedAt: "2025-01-01T00:00:00.000Z",
    ...patch,
  };
}
