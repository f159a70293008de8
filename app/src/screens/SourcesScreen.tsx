import { api } from "../api/client";
import { ConnectorIcon } from "../components/ConnectorIcon";
import { formatDuration, formatNumber } from "../components/format";
import { RunTime } from "../components/RunTime";
import { Link } from "../components/router";
import { StatusBadge } from "../components/StatusBadge";
import { useAsync } from "../components/useAsync";

export function SourcesScreen() {
  const sources = useAsync(() => api.sources(), []);
  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Sources</h1>
          <p className="muted">Data sources Mako syncs into your database.</p>
        </div>
        <Link className="button button-primary" href="/connectors">
          Add a source
        </Link>
      </header>
      {sources.error && <p className="banner banner-error">{sources.error}</p>}
      {sources.loading && !sources.data && <p className="muted">Loading…</p>}
      {sources.data && sources.data.length === 0 && (
        <div className="empty card">
          <h2>No sources yet</h2>
          <p className="muted">Pick a connector from the catalog, fill in its settings, and watch the first sync.</p>
          <Link className="button button-primary" href="/connectors">
            Browse connectors
          </Link>
        </div>
      )}
      {sources.data && sources.data.length > 0 && (
        <ul className="source-list" aria-label="Sources">
          {sources.data.map((s) => (
            <li key={s.name}>
              <Link className="card source-row" href={`/sources/${encodeURIComponent(s.name)}`}>
                <ConnectorIcon id={s.connector} size={36} />
                <div className="source-row-main">
                  <strong>{s.name}</strong>
                  <span className="muted">{s.connector}</span>
                </div>
                <div className="source-row-run">
                  {s.lastRun ? (
                    <>
                      <StatusBadge status={s.lastRun.status} />
                      <span className="muted small">
                        <RunTime iso={s.lastRun.startedAt} /> · {formatNumber(s.lastRun.records)} records · {formatDuration(s.lastRun.durationMs)}
                      </span>
                    </>
                  ) : (
                    <span className="muted small">Never synced</span>
                  )}
                </div>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
