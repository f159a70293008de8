import type { Command } from "commander";
import type { Mako } from "../Mako";
import type { ScheduleView } from "../schedules/Schedules";

/** `mako schedule set|list|pause|resume|remove`: a source's cron, fired by `mako serve`. */
export function registerScheduleCommand(program: Command, mako: () => Promise<Mako>): void {
  const schedule = program
    .command("schedule")
    .description("sync sources on a cron schedule (fired by mako serve / npm start while it runs)");

  schedule
    .command("set <name> <cron...>")
    .description(
      'set (or replace) a source\'s schedule: five cron fields, minute hour day-of-month month day-of-week, e.g. "30 2 * * *" (quote it)',
    )
    .option("--tz <zone>", "IANA time zone the cron is read in, e.g. Europe/Paris (default: this machine's)")
    .option("--misfire <policy>", "slots missed while no scheduler ran (mako serve stopped): coalesce (fire once) or skip (a slot missed by over 60 s does not fire)", "coalesce")
    .action(async (name: string, cron: string[], o) => {
      const set = await (await mako()).schedules.set(name, { cron: cron.join(" "), timezone: o.tz, misfire: o.misfire });
      console.log(`schedule of "${set.source}": ${set.cron} in ${set.timezone}, misfire ${set.misfire}${set.paused ? " (paused: npx mako schedule resume " + set.source + ")" : ""}`);
      if (set.nextFireTimes.length) console.log(`next runs: ${set.nextFireTimes.map((t) => inZone(t, set.timezone)).join(", ")}`);
      console.log("runs start while mako serve (or npm start) is running");
    });

  schedule
    .command("list")
    .description("list schedules: cron, zone, next and last fire, a fire waiting behind a running sync, fires coalesced and slots skipped")
    .action(async () => {
      const list = await (await mako()).schedules.list();
      if (list.length === 0) console.log('no schedules yet: npx mako schedule set NAME "30 2 * * *"');
      for (const s of list) for (const line of describe(s)) console.log(line);
    });

  schedule
    .command("pause <name>")
    .description("stop firing a source's schedule until resumed (a fire waiting behind a running sync is dropped)")
    .action(async (name: string) => {
      await (await mako()).schedules.pause(name);
      console.log(`paused the schedule of "${name}": no scheduled run until npx mako schedule resume ${name}`);
    });

  schedule
    .command("resume <name>")
    .description("fire a paused schedule again, from its next slot (slots passed while paused do not fire)")
    .action(async (name: string) => {
      const s = await (await mako()).schedules.resume(name);
      console.log(`resumed the schedule of "${name}"${s.nextFireTimes[0] ? `; next run: ${inZone(s.nextFireTimes[0], s.timezone)}` : ""}`);
    });

  schedule
    .command("remove <name>")
    .description("forget a source's schedule (the source and its runs stay)")
    .action(async (name: string) => {
      await (await mako()).schedules.remove(name);
      console.log(`removed the schedule of "${name}"`);
    });
}

function describe(s: ScheduleView): string[] {
  const state = s.paused ? "paused" : s.pending ? "waiting for the running sync" : "active";
  const next = s.nextFireTimes[0] ? inZone(s.nextFireTimes[0], s.timezone) : "–";
  const last = s.lastFireAt ? `${inZone(s.lastFireAt, s.timezone)}${s.lastRunId ? ` (${s.lastRunId})` : ""}` : "never";
  const lines = [
    `${s.source.padEnd(16)} ${s.cron.padEnd(16)} ${s.timezone.padEnd(18)} misfire ${s.misfire.padEnd(8)} ${state}`,
    `${"".padEnd(16)} next: ${next}  last fired: ${last}  coalesced: ${s.coalesced}  skipped: ${s.skipped}`,
  ];
  if (s.lastError) lines.push(`${"".padEnd(16)} last error: ${s.lastError}`);
  return lines;
}

/** "2025-03-30 03:00 GMT+02:00": a time as the schedule's zone reads it, with its offset. */
function inZone(iso: string, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZoneName: "longOffset",
    })
      .formatToParts(new Date(iso))
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute} ${parts.timeZoneName === "GMT" ? "GMT+00:00" : parts.timeZoneName}`;
}
