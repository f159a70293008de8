import { Fragment, useState } from "react";
import { api } from "../api/client";
import type { RunInfo } from "../api/types";
import { formatDuration, formatNumber } from "./format";
import { RunLog } from "./RunLog";
import { RunTime } from "./RunTime";
import { StatusBadge } from "./StatusBadge";
import { useAsync } from "./useAsync";

/** Past runs of a source; a row opens its per-entity figures and its log. */
export function RunHistory({ runs }: { runs: RunInfo[] }) {
  const [open, setOpen] = useState<string>();
  if (runs.length === 0) return <p className="muted small">No runs yet.</p>;
  return (
    <div className="table-wrap">
      <table className="table runs-table" aria-label="Run history">
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Started</th>
            <th scope="col" className="num hide-narrow">Duration</th>
            <th scope="col" className="num">Records</th>
            <th scope="col" className="hide-narrow">Mode</th>
            <th scope="col">
              <span className="visually-hidden">Details</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <Fragment key={run.id}>
              <tr data-run={run.id} className={open === run.id ? "is-open" : undefined}>
                <td>
                  <StatusBadge status={run.status} />
                  {run.trigger === "schedule" && (
                    <span className="tag tag-neutral" data-testid="run-scheduled">
                      Scheduled
                    </span>
                  )}
                </td>
                <td className="started">
                  <RunTime iso={run.startedAt} />
                </td>
                <td className="num hide-narrow">{formatDuration(run.durationMs)}</td>
                <td className="num">{formatNumber(run.records)}</td>
                <td className="hide-narrow muted">{run.fullRefresh ? "Full refresh" : "Incremental"}</td>
                <td className="actions">
                  <button
                    type="button"
                    className="link-button"
                    aria-expanded={open === run.id}
                    aria-controls={`run-${run.id}`}
                    onClick={() => setOpen(open === run.id ? undefined : run.id)}
                  >
                    {open === run.id ? "Hide" : "Details"}
                  </button>
                </td>
              </tr>
              {run.error && (
                <tr className="run-error-row">
                  <td colSpan={6}>
                    <p className={run.status === "cancelled" ? "muted small" : "error-text"}>{run.error}</p>
                  </td>
                </tr>
              )}
              {open === run.id && (
                <tr className="run-details-row" id={`run-${run.id}`}>
                  <td colSpan={6}>
                    <RunDetails id={run.id} />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function RunDetails({ id }: { id: string }) {
  const run = useAsync(() => api.run(id), [id]);
  if (run.error) return <p className="error-text">{run.error}</p>;
  if (!run.data) return <p className="muted small">Loading…</p>;
  return (
    <div className="run-details">
      <table className="table table-compact" aria-label="Entities of this run">
        <thead>
          <tr>
            <th scope="col">Entity</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">Records</th>
            <th scope="col" className="num hide-narrow">Duration</th>
            <th scope="col" className="num hide-narrow">Records/s</th>
            <th scope="col" className="num">Retries</th>
          </tr>
        </thead>
        <tbody>
          {run.data.entities.map((e) => (
            <Fragment key={e.entity}>
              <tr>
                <th scope="row">{e.entity}</th>
                <td>
                  <StatusBadge status={e.status} />
                </td>
                <td className="num">{formatNumber(e.records)}</td>
                <td className="num hide-narrow">{formatDuration(e.durationMs)}</td>
                <td className="num hide-narrow">{formatNumber(e.recordsPerSecond)}</td>
                <td className="num" data-testid="retries">
                  {formatNumber(e.retries)}
                </td>
              </tr>
              {e.error && (
                <tr>
                  <td colSpan={6} className="error-text wrap-anywhere">
                    {e.error}
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
      <h4>Log</h4>
      <RunLog lines={run.data.logs} label={`Log of run ${id}`} />
    </div>
  );
}
