import { useEffect, useRef, useState } from "react";
import { api } from "../api/client";
import type { ScheduleInfo } from "../api/types";
import { fieldErrorOf } from "./fieldErrors";
import { formatNumber } from "./format";
import { RunTime } from "./RunTime";

/** How often the panel re-reads the schedule, to see fires the server made meanwhile. */
const REFRESH_MS = 15_000;

const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const zones: string[] = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];

/** "Wed, Dec 2, 2026, 10:30 GMT+9": a slot in the browser's own zone. */
function inBrowserZone(iso: string): string {
  return new Date(iso).toLocaleString("en-US", {
    weekday: "short",
    month: "short",
    day: "numeric",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  });
}

interface Draft {
  cron: string;
  timezone: string;
  misfire: "coalesce" | "skip";
}

/**
 * A source's schedule: its cron and the next three runs in the viewer's time zone; set, edit,
 * pause, resume and remove it. `onFired` is called when a fire the server made is seen.
 */
export function SchedulePanel({ source, onFired }: { source: string; onFired?: () => void }) {
  const [schedule, setSchedule] = useState<ScheduleInfo | null>();
  const [loadError, setLoadError] = useState<string>();
  const [draft, setDraft] = useState<Draft>();
  const [errors, setErrors] = useState<Partial<Record<keyof Draft, string>>>({});
  const [actionError, setActionError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const lastRun = useRef<string | null | undefined>(undefined);
  const fired = useRef(onFired);
  fired.current = onFired;

  const show = (next: ScheduleInfo | null) => {
    if (lastRun.current !== undefined && next?.lastRunId && next.lastRunId !== lastRun.current) fired.current?.();
    lastRun.current = next?.lastRunId ?? null;
    setSchedule(next);
  };

  useEffect(() => {
    let stop = false;
    const load = () =>
      api.schedule(source).then(
        (s) => !stop && (show(s), setLoadError(undefined)),
        (err: Error) => !stop && setLoadError(err.message),
      );
    void load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [source]);

  const act = async (work: () => Promise<ScheduleInfo | null>) => {
    setBusy(true);
    setActionError(undefined);
    try {
      show(await work());
    } catch (err) {
      setActionError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const save = async () => {
    if (!draft) return;
    if (!draft.cron.trim()) {
      setErrors({ cron: "Give a cron: five fields, e.g. 30 2 * * *" });
      return;
    }
    setBusy(true);
    try {
      show(await api.setSchedule(source, { ...draft, cron: draft.cron.trim(), timezone: draft.timezone.trim() }));
      setDraft(undefined);
      setErrors({});
    } catch (err) {
      const { field, message } = fieldErrorOf(err);
      if (field === "cron" || field === "timezone" || field === "misfire") setErrors({ [field]: message });
      else setActionError(message);
    } finally {
      setBusy(false);
    }
  };

  const edit = () => {
    setActionError(undefined);
    setErrors({});
    setDraft(schedule ? { cron: schedule.cron, timezone: schedule.timezone, misfire: schedule.misfire } : { cron: "", timezone: browserZone, misfire: "coalesce" });
  };

  const state = schedule?.paused ? "Paused" : schedule?.pending ? "Waiting" : schedule ? "Active" : undefined;
  return (
    <div className="card" data-testid="schedule-panel">
      <div className="card-head">
        <h2>
          Schedule
          {state && (
            <span className={`tag${state === "Active" ? " tag-neutral" : ""}`} data-testid="schedule-state">
              {state}
            </span>
          )}
        </h2>
        {!draft && schedule !== undefined && (
          <div className="header-actions">
            {schedule && (
              <>
                <button type="button" className="button" disabled={busy} onClick={() => void act(() => (schedule.paused ? api.resumeSchedule(source) : api.pauseSchedule(source)))}>
                  {schedule.paused ? "Resume" : "Pause"}
                </button>
                <button type="button" className="button button-danger-quiet" disabled={busy} onClick={() => void act(async () => (await api.removeSchedule(source), null))}>
                  Remove schedule
                </button>
              </>
            )}
            <button type="button" className="button" onClick={edit}>
              {schedule ? "Edit schedule" : "Add a schedule"}
            </button>
          </div>
        )}
      </div>
      {loadError && <p className="error-text">{loadError}</p>}
      {schedule === null && !draft && <p className="muted small">No schedule: this source syncs only when asked.</p>}
      {schedule && !draft && <ScheduleFacts schedule={schedule} />}
      {draft && (
        <form
          className="form"
          aria-label="Schedule"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            void save();
          }}
        >
          <div className={`field${errors.cron ? " field-invalid" : ""}`}>
            <label htmlFor="schedule-cron">Cron</label>
            <input
              id="schedule-cron"
              type="text"
              autoComplete="off"
              spellCheck={false}
              placeholder="30 2 * * *"
              value={draft.cron}
              aria-invalid={errors.cron ? true : undefined}
              aria-describedby={`schedule-cron-help${errors.cron ? " schedule-cron-error" : ""}`}
              onChange={(e) => (setDraft({ ...draft, cron: e.target.value }), setErrors({}))}
            />
            <p className="help" id="schedule-cron-help">
              Five fields: minute, hour, day of month, month, day of week. <code>30 2 * * *</code> is 02:30 every day; <code>0 */6 * * MON-FRI</code> every six hours on weekdays.
            </p>
            {errors.cron && (
              <p className="error-text" id="schedule-cron-error" role="alert">
                {errors.cron}
              </p>
            )}
          </div>
          <div className={`field${errors.timezone ? " field-invalid" : ""}`}>
            <label htmlFor="schedule-timezone">Time zone</label>
            <input
              id="schedule-timezone"
              type="text"
              list="schedule-zones"
              autoComplete="off"
              spellCheck={false}
              value={draft.timezone}
              aria-invalid={errors.timezone ? true : undefined}
              aria-describedby={`schedule-timezone-help${errors.timezone ? " schedule-timezone-error" : ""}`}
              onChange={(e) => (setDraft({ ...draft, timezone: e.target.value }), setErrors({}))}
            />
            <datalist id="schedule-zones">
              {zones.map((z) => (
                <option key={z} value={z} />
              ))}
            </datalist>
            <p className="help" id="schedule-timezone-help">
              The cron is read in this zone (yours is {browserZone}). On a daylight saving change, a time that does not exist runs at the first time after it, and a time that happens twice runs once.
            </p>
            {errors.timezone && (
              <p className="error-text" id="schedule-timezone-error" role="alert">
                {errors.timezone}
              </p>
            )}
          </div>
          <div className={`field${errors.misfire ? " field-invalid" : ""}`}>
            <label htmlFor="schedule-misfire">Runs missed while Mako was stopped</label>
            <select id="schedule-misfire" value={draft.misfire} onChange={(e) => setDraft({ ...draft, misfire: e.target.value as Draft["misfire"] })}>
              <option value="coalesce">Run once when Mako is back</option>
              <option value="skip">Skip them (a run late by over a minute does not happen)</option>
            </select>
            {errors.misfire && <p className="error-text">{errors.misfire}</p>}
          </div>
          <div className="form-actions">
            <button type="button" className="button" onClick={() => setDraft(undefined)} disabled={busy}>
              Cancel
            </button>
            <button type="submit" className="button button-primary" disabled={busy}>
              {busy ? "Saving…" : "Save schedule"}
            </button>
          </div>
        </form>
      )}
      {actionError && (
        <p className="banner banner-error" role="alert">
          {actionError}
        </p>
      )}
    </div>
  );
}

function ScheduleFacts({ schedule }: { schedule: ScheduleInfo }) {
  return (
    <>
      <dl className="schedule-facts">
        <dt>Cron</dt>
        <dd>
          <code data-testid="schedule-cron">{schedule.cron}</code> in {schedule.timezone}
        </dd>
        <dt>Missed runs</dt>
        <dd>{schedule.misfire === "coalesce" ? "run once when Mako is back" : "skipped (late by over a minute)"}</dd>
        <dt>Last scheduled run</dt>
        <dd>{schedule.lastFireAt ? <RunTime iso={schedule.lastFireAt} /> : "none yet"}</dd>
        {schedule.pending && (
          <>
            <dt>Waiting</dt>
            <dd>one run starts when the current sync ends</dd>
          </>
        )}
        <dt>Coalesced</dt>
        <dd data-testid="schedule-coalesced">{formatNumber(schedule.coalesced)} runs folded into a waiting one</dd>
        {schedule.skipped > 0 && (
          <>
            <dt>Skipped</dt>
            <dd>{formatNumber(schedule.skipped)} missed runs</dd>
          </>
        )}
        {schedule.lastError && (
          <>
            <dt>Last error</dt>
            <dd className="error-text wrap-anywhere">{schedule.lastError}</dd>
          </>
        )}
      </dl>
      {schedule.paused ? (
        <p className="muted small" data-testid="schedule-paused">
          Paused: no scheduled run until it is resumed.
        </p>
      ) : (
        <>
          <h3 className="small">Next runs, in your time ({browserZone})</h3>
          <ol className="next-runs" data-testid="next-runs">
            {schedule.nextFireTimes.map((t) => (
              <li key={t}>
                <time dateTime={t}>{inBrowserZone(t)}</time>
              </li>
            ))}
          </ol>
        </>
      )}
    </>
  );
}
