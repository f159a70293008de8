import { useCallback, useEffect, useRef, useState } from "react";
import { api, followRun } from "../api/client";
import type { ConnectorInfo, LogLine, ProgressEvent, RunInfo, SourceInfo, TestResult } from "../api/types";
import { ConnectorIcon } from "../components/ConnectorIcon";
import { DataPreview } from "../components/DataPreview";
import { EntityPicker } from "../components/EntityPicker";
import { fieldErrorOf } from "../components/fieldErrors";
import { formatDuration, formatNumber } from "../components/format";
import { LiveProgress } from "../components/LiveProgress";
import { RunHistory } from "../components/RunHistory";
import { RunLog } from "../components/RunLog";
import { Link, navigate } from "../components/router";
import { initialValues, SchemaForm, toConfig, type FormValues } from "../components/SchemaForm";
import { StatusBadge } from "../components/StatusBadge";
import { useAsync } from "../components/useAsync";
import { WebhookPanel } from "../components/WebhookPanel";

export function SourceScreen({ name }: { name: string }) {
  const data = useAsync(async () => {
    const [source, connectors] = await Promise.all([api.source(name), api.connectors()]);
    return { source, connector: connectors.find((c) => c.id === source.connector) };
  }, [name]);
  useEffect(() => {
    document.title = `${name} · Mako`;
  }, [name]);
  if (data.error)
    return (
      <section className="page">
        <p className="banner banner-error">{data.error}</p>
        <Link href="/">Back to sources</Link>
      </section>
    );
  if (!data.data) return <p className="muted page">Loading…</p>;
  if (!data.data.connector) return <p className="banner banner-error">Connector “{data.data.source.connector}” is not installed.</p>;
  return <SourceView source={data.data.source} connector={data.data.connector} onChanged={data.reload} />;
}

interface LiveRun {
  id: string;
  progress: Record<string, ProgressEvent>;
  logs: LogLine[];
  final?: RunInfo;
  error?: string;
}

function SourceView({ source, connector, onChanged }: { source: SourceInfo; connector: ConnectorInfo; onChanged(): void }) {
  const runs = useAsync(() => api.runs(source.name), [source.name]);
  const tables = useAsync(() => api.tables(source.name), [source.name]);
  const [entities, setEntities] = useState(connector.entities.map((e) => e.name));
  const [fullRefresh, setFullRefresh] = useState(false);
  const [live, setLive] = useState<LiveRun>();
  const [syncError, setSyncError] = useState<string>();
  const [test, setTest] = useState<TestResult & { pending?: boolean }>();
  const [editing, setEditing] = useState(false);
  const stopRef = useRef<() => void>(undefined);

  const follow = useCallback(
    (id: string) => {
      stopRef.current?.();
      setLive({ id, progress: {}, logs: [] });
      stopRef.current = followRun(id, {
        progress: (p) => setLive((l) => (l && l.id === id ? { ...l, progress: { ...l.progress, [p.entity]: p } } : l)),
        log: (line) => setLive((l) => (l && l.id === id ? { ...l, logs: [...l.logs.slice(-499), line] } : l)),
        end: (run) => {
          setLive((l) => {
            if (!l || l.id !== id) return l;
            // The final figures replace the last progress events.
            const progress = { ...l.progress };
            for (const e of run.entities)
              progress[e.entity] = {
                entity: e.entity,
                records: e.records,
                total: progress[e.entity]?.total,
                recordsPerSecond: e.recordsPerSecond ?? 0,
                retries: e.retries,
                rateLimited: e.rateLimited,
                waiting: false,
                status: e.status,
              };
            return { ...l, progress, final: run };
          });
          runs.reload();
          tables.reload();
        },
        error: (message) => setLive((l) => (l && l.id === id ? { ...l, error: message } : l)),
      });
    },
    [runs.reload, tables.reload],
  );

  // Pick up a run that is already going (started from the add form, the CLI or another tab).
  const latest = runs.data?.[0];
  useEffect(() => {
    if (latest && (latest.status === "running" || latest.status === "queued") && live?.id !== latest.id) follow(latest.id);
  }, [latest?.id, latest?.status]);
  useEffect(() => () => stopRef.current?.(), []);

  const running = live !== undefined && live.final === undefined && live.error === undefined;

  const startSync = async () => {
    setSyncError(undefined);
    if (entities.length === 0) {
      setSyncError("Pick at least one entity to sync.");
      return;
    }
    try {
      const all = entities.length === connector.entities.length;
      const { runId } = await api.sync(source.name, { ...(all ? {} : { entities }), ...(fullRefresh ? { fullRefresh: true } : {}) });
      follow(runId);
      runs.reload();
    } catch (err) {
      setSyncError(err instanceof Error ? err.message : String(err));
    }
  };

  const cancel = async () => {
    if (!live) return;
    try {
      await api.cancelRun(live.id);
    } catch (err) {
      setSyncError(err instanceof Error ? err.message : String(err));
    }
  };

  const runTest = async () => {
    setTest({ success: false, message: "Testing…", pending: true });
    try {
      setTest(await api.testSource(source.name));
    } catch (err) {
      setTest({ success: false, message: err instanceof Error ? err.message : String(err) });
    }
  };

  const remove = async () => {
    if (!window.confirm(`Remove the source “${source.name}”? Synced tables stay in the database.`)) return;
    try {
      await api.removeSource(source.name);
      navigate("/");
    } catch (err) {
      setSyncError(err instanceof Error ? err.message : String(err));
    }
  };

  const progress = live ? orderedProgress(live, connector) : [];
  const final = live?.final;

  return (
    <section className="page">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link href="/">Sources</Link> <span aria-hidden="true">/</span> <span>{source.name}</span>
      </nav>
      <header className="page-header">
        <div className="title-with-icon">
          <ConnectorIcon id={connector.id} size={44} />
          <div>
            <h1>{source.name}</h1>
            <p className="muted">
              {connector.name} · v{connector.version}
            </p>
          </div>
        </div>
        <div className="header-actions">
          <button type="button" className="button" onClick={runTest} disabled={test?.pending}>
            Test connection
          </button>
          <button type="button" className="button" onClick={() => setEditing((e) => !e)} aria-expanded={editing}>
            {editing ? "Close settings" : "Settings"}
          </button>
          <button type="button" className="button button-danger-quiet" onClick={remove}>
            Remove
          </button>
        </div>
      </header>
      {test && (
        <p className={`banner ${test.pending ? "banner-info" : test.success ? "banner-success" : "banner-error"}`} role="status" data-testid="test-result">
          {test.message}
        </p>
      )}
      {editing && (
        <EditSource
          source={source}
          connector={connector}
          onSaved={() => {
            setEditing(false);
            onChanged();
          }}
        />
      )}

      <div className="card">
        <div className="card-head">
          <h2>Sync</h2>
          {live && (final ? <StatusBadge status={final.status} /> : live.error ? <StatusBadge status="failed" /> : <StatusBadge status="running" />)}
        </div>
        <EntityPicker entities={connector.entities} selected={entities} onChange={setEntities} disabled={running} />
        <div className="sync-actions">
          <div>
            <label className="checkbox">
              <input type="checkbox" checked={fullRefresh} onChange={(e) => setFullRefresh(e.target.checked)} disabled={running} aria-describedby="full-refresh-help" />
              Full refresh
            </label>
            <p className="help" id="full-refresh-help">
              Re-reads everything; rows gone from the source are marked deleted.
            </p>
          </div>
          {running ? (
            <button type="button" className="button" onClick={cancel}>
              Cancel sync
            </button>
          ) : (
            <button type="button" className="button button-primary" onClick={startSync}>
              Sync now
            </button>
          )}
        </div>
        {syncError && (
          <p className="banner banner-error" role="alert">
            {syncError}
          </p>
        )}
        {live && (
          <div className="live" aria-live="polite">
            <LiveProgress progress={progress} />
            {final && (
              <p className={`banner ${final.status === "succeeded" ? "banner-success" : final.status === "cancelled" ? "banner-info" : "banner-error"}`} data-testid="run-summary">
                {final.status === "succeeded"
                  ? `Sync finished: ${formatNumber(final.records)} records in ${formatDuration(final.durationMs)}.`
                  : final.status === "cancelled"
                    ? `Sync cancelled after ${formatNumber(final.records)} records. The next sync resumes from the last checkpoint.`
                    : `Sync failed${final.error ? `: ${final.error}` : "."}`}
              </p>
            )}
            {live.error && <p className="banner banner-error">{live.error}</p>}
            {live.logs.length > 0 && (
              <details className="live-log">
                <summary>Live log ({live.logs.length})</summary>
                <RunLog lines={live.logs} label="Live log" />
              </details>
            )}
          </div>
        )}
      </div>

      {/* Keyed on the source's last change: saved settings (a secret set) show at once. */}
      <WebhookPanel key={source.updatedAt} source={source.name} />

      <div className="card">
        <div className="card-head">
          <h2>Data preview</h2>
        </div>
        {tables.error ? <p className="error-text">{tables.error}</p> : tables.data ? <DataPreview source={source.name} tables={inEntityOrder(tables.data, connector)} /> : <p className="muted small">Loading…</p>}
      </div>

      <div className="card">
        <div className="card-head">
          <h2>Run history</h2>
        </div>
        {runs.error ? <p className="error-text">{runs.error}</p> : <RunHistory runs={runs.data ?? []} />}
      </div>
    </section>
  );
}

function inEntityOrder<T extends { entity: string }>(items: T[], connector: ConnectorInfo): T[] {
  const order = connector.entities.map((e) => e.name);
  const rank = (x: T) => (order.includes(x.entity) ? order.indexOf(x.entity) : order.length);
  return [...items].sort((a, b) => rank(a) - rank(b));
}

function orderedProgress(live: LiveRun, connector: ConnectorInfo): ProgressEvent[] {
  const order = connector.entities.map((e) => e.name);
  return Object.values(live.progress).sort((a, b) => order.indexOf(a.entity) - order.indexOf(b.entity));
}

function EditSource({ source, connector, onSaved }: { source: SourceInfo; connector: ConnectorInfo; onSaved(): void }) {
  const [values, setValues] = useState<FormValues>(() => initialValues(connector.configSchema, source.config));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string>();
  const [saving, setSaving] = useState(false);
  const save = async () => {
    const { config, errors: found } = toConfig(connector.configSchema, values, { keepSecrets: source.secrets });
    setErrors(found);
    if (Object.keys(found).length) return;
    setSaving(true);
    try {
      await api.updateSource(source.name, { config });
      onSaved();
    } catch (err) {
      const { field, message } = fieldErrorOf(err);
      if (field) setErrors((e) => ({ ...e, [field]: message }));
      else setFormError(message);
      setSaving(false);
    }
  };
  return (
    <form
      className="card form"
      aria-label="Source settings"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <div className="card-head">
        <h2>Settings</h2>
      </div>
      <SchemaForm
        schema={connector.configSchema}
        values={values}
        errors={errors}
        secrets={source.secrets}
        idPrefix="edit"
        onChange={(k, v) => {
          setValues((x) => ({ ...x, [k]: v }));
          setErrors(({ [k]: _dropped, ...rest }) => rest);
        }}
      />
      {formError && <p className="banner banner-error">{formError}</p>}
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={saving}>
          {saving ? "Saving…" : "Save settings"}
        </button>
      </div>
    </form>
  );
}
