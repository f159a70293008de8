import type { ProgressEvent, WaitReason } from "../api/types";
import { formatNumber } from "./format";
import { StatusBadge } from "./StatusBadge";

/** What an entity waits on, as the server's `waitingOn` says. */
const waitLabels: Record<WaitReason, string> = {
  rate_limit: "Waiting on rate limit",
  network_error: "Retrying after a network error",
  timeout: "Retrying after a timeout",
  server_error: "Retrying after a server error",
};
const waitTitles: Record<WaitReason, string> = {
  rate_limit: "Pausing to respect the source's rate limit",
  network_error: "The source could not be reached; retrying with backoff",
  timeout: "The source did not answer in time; retrying with backoff",
  server_error: "The source answered with a server error; retrying with backoff",
};

/**
 * Per-entity progress of the run being followed. At phone width each row becomes a small
 * card (name and status, the bar, then the figures), so nothing is cut off.
 */
export function LiveProgress({ progress }: { progress: ProgressEvent[] }) {
  if (progress.length === 0) return <p className="muted small">Waiting for the first records…</p>;
  return (
    <div className="table-wrap">
      <table className="table progress-table" aria-label="Live progress">
        <thead>
          <tr>
            <th scope="col">Entity</th>
            <th scope="col">Progress</th>
            <th scope="col" className="num">Records</th>
            <th scope="col" className="num">Records/s</th>
            <th scope="col" className="num">Retries</th>
            <th scope="col">Status</th>
          </tr>
        </thead>
        <tbody>
          {progress.map((p) => {
            const done = p.status === "succeeded";
            // Without a total, a running entity gets an indeterminate bar; a pending one an empty bar.
            const pct = done ? 100 : p.total ? Math.min(100, (p.records / p.total) * 100) : p.status === "running" ? undefined : 0;
            return (
              <tr key={p.entity} data-entity={p.entity} data-status={p.status}>
                <th scope="row" className="cell-entity">
                  {p.entity}
                </th>
                <td className="progress-cell">
                  <div
                    className={`bar${pct === undefined ? " bar-indeterminate" : ""}`}
                    role="progressbar"
                    aria-label={`${p.entity} progress`}
                    aria-valuemin={0}
                    aria-valuemax={100}
                    aria-valuenow={pct === undefined ? undefined : Math.round(pct)}
                  >
                    <span style={{ width: pct === undefined ? undefined : `${pct}%` }} />
                  </div>
                </td>
                <td className="num cell-records" data-testid="records" data-label="records">
                  {formatNumber(p.records)}
                  {p.total !== undefined && <span className="muted"> / {formatNumber(p.total)}</span>}
                </td>
                <td className="num cell-rate" data-label="/s">
                  {formatNumber(p.recordsPerSecond)}
                </td>
                <td className={`num cell-retries${p.retries > 0 ? "" : " is-zero"}`} data-testid="retries" data-label="retries">
                  {p.retries > 0 ? formatNumber(p.retries) : "–"}
                </td>
                <td className="cell-status">
                  {p.waiting ? (
                    <span className="badge badge-waiting" title={waitTitles[p.waitingOn ?? "rate_limit"]}>
                      {waitLabels[p.waitingOn ?? "rate_limit"]}
                    </span>
                  ) : (
                    <StatusBadge status={p.status} />
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
