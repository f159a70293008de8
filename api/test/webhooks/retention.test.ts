import { describe, expect, it } from "vitest";
import { pruneBefore, retentionDays } from "../../src/webhooks/retention";

describe("webhook event retention (MAKO_WEBHOOK_RETENTION_DAYS)", () => {
  it("defaults to 7 days, takes a number of days, refuses anything else in one line naming the variable", () => {
    expect(retentionDays({})).toBe(7);
    expect(retentionDays({ MAKO_WEBHOOK_RETENTION_DAYS: "" })).toBe(7);
    expect(retentionDays({ MAKO_WEBHOOK_RETENTION_DAYS: "30" })).toBe(30);
    expect(retentionDays({ MAKO_WEBHOOK_RETENTION_DAYS: "0.5" })).toBe(0.5);
    for (const bad of ["-1", "seven", "4000", "Infinity"]) {
      expect(() => retentionDays({ MAKO_WEBHOOK_RETENTION_DAYS: bad }), bad).toThrow(/^MAKO_WEBHOOK_RETENTION_DAYS must be a number of days from 0 to 3650 \(got "/);
    }
    expect(pruneBefore(7, Date.UTC(2024, 0, 8))).toBe("2024-01-01T00:00:00.000Z");
  });
});
