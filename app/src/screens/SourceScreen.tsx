import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError, followRun } from "../api/client";
import type { ConnectorInfo, EntityInfo, LogLine, ProgressEvent, RunInfo, SourceInfo, TestResult } from "../api/types";
import { RemoveSourceDialog } from "../components/RemoveSourceDialog";
import { ConnectorIcon } from "../components/ConnectorIcon";
import { DataPreview } from "../components/DataPreview";
import { EntityPicker } from "../components/EntityPicker";
import { fieldErrorOf } from "../components/fieldErrors";
import { formatDuration, formatNumber } from "../components/format";
import { LiveProgress } from "../components/LiveProgress";
import { RunHistory } from "../components/RunHistory";
import { RunLog } from "../components/RunLog";
import { SchedulePanel } from "../components/SchedulePanel";
import { Link, navigate } from "../components/router";
import { initialValues, SchemaForm, toConfig, type FormValues } from "../components/SchemaForm";
import { StatusBadge } from "../components/StatusBadge";
import { useAsync } from "../components/useAsync";
import { WebhookPanel } from "../components/WebhookPanel";

/** How often, at most, the data preview and run history are re-read while chunks commit. */
const PREVIEW_REFRESH_MS = 1000;

export function SourceScreen({ name }: { name: string }) {
  const data = useAsync(async () => {
    try {
      const [source, connectors] = await Promise.all([api.source(name), api.connectors()]);
      return { source, connector: connectors.find((c) => c.id === source.connector) };
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return { missing: true as const };
      throw err;
    }
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
  if ("missing" in data.data)
    return (
      <section className="page page-narrow">
        <div className="card empty" data-testid="source-missing">
          <h1>There is no source named “{name}”</h1>
          <p className="muted">It may have been removed.</p>
          <Link className="button button-primary" href="/">
            Back to sources
          </Link>
        </div>
      </section>
    );
  if (!data.data.connector) return <p className="banner banner-error">Connector “{data.data.source.connector}” is not installed.</p>;
  return <SourceView source={data.data.source} connector={data.data.connector} onChanged={data.reload} />;
}

interface LiveRun {
  id: string;
  fullRefresh: boolean;
  progress: Record<string, ProgressEvent>;
  logs: LogLine[];
  final?: RunInfo;
  error?: string;
}

/** "users and purchases", "all entities". */
function describeSelection(selected: string[], all: EntityInfo[]): string {
  if (selected.length === all.length) return "all entities";
  if (selected.length === 1) return selected[0];
  return `${selected.slice(0, -1).join(", ")} and ${selected.at(-1)}`;
}

function SourceView({ source, connector, onChanged }: { source: SourceInfo; connector: ConnectorInfo; onChanged(): void }) {
  const runs = useAsync(() => api.runs(source.name), [source.name]);
  const tables = useAsync(() => api.tables(source.name), [source.name]);
  const available = source.availableEntities.length ? source.availableEntities : connector.entities;
  const [entities, setEntities] = useState(() => source.entities?.filter((e) => available.some((a) => a.name === e)) ?? available.map((e) => e.name));
  const [selectionNote, setSelectionNote] = useState<{ text: string; error?: boolean }>();
  const savingSelection = useRef<Promise<unknown>>(Promise.resolve());
  const [fullRefresh, setFullRefresh] = useState(false);
  const [live, setLive] = useState<LiveRun>();
  const [syncError, setSyncError] = useState<string>();
  const [test, setTest] = useState<TestResult & { pending?: boolean }>();
  const [editing, setEditing] = useState(false);
  const [removing, setRemoving] = useState(false);
  const stopRef = useRef<() => void>(undefined);

  // The preview follows the commits: re-read (at most once a second) when an entity commits more.
  const committed = useRef(new Map<string, number>());
  const refresh = useRef<{ at: number; timer?: ReturnType<typeof setTimeout> }>({ at: 0 });
  const refreshPreview = useCallback(() => {
    const r = refresh.current;
    if (r.timer) return;
    r.timer = setTimeout(
      () => {
        r.timer = undefined;
        r.at = Date.now();
        tables.reload();
        runs.reload();
      },
      Math.max(0, r.at + PREVIEW_REFRESH_MS - Date.now()),
    );
  }, [tables.reload, runs.reload]);
  useEffect(() => () => clearTimeout(refresh.current.timer), []);

  const follow = useCallback(
    (id: string, fullRefresh: boolean) => {
      stopRef.current?.();
      committed.current.clear();
      setLive({ id, fullRefresh, progress: {}, logs: [] });
      stopRef.current = followRun(id, {
        progress: (p) => {
          if ((p.committed ?? 0) > (committed.current.get(p.entity) ?? 0)) {
            committed.current.set(p.entity, p.committed ?? 0);
            refreshPreview();
          }
          setLive((l) => (l && l.id === id ? { ...l, progress: { ...l.progress, [p.entity]: p } } : l));
        },
        log: (line) => setLive((l) => (l && l.id === id ? { ...l, logs: [...l.logs.slice(-499), line] } : l)),
        end: (run) => {
          setLive((l) => {
            if (!l || l.id !== id) return l;
            // The final figures replace the last progress events; counts seen live are kept.
            const progress = { ...l.progress };
            for (const e of run.entities) {
              const seen = progress[e.entity];
              progress[e.entity] = {
                entity: e.entity,
                records: e.records,
                committed: e.records,
                total: seen?.total,
                recordsPerSecond: e.recordsPerSecond ?? 0,
                retries: Math.max(e.retries, seen?.retries ?? 0),
                rateLimited: seen?.rateLimited ?? 0,
                waiting: false,
                status: e.status,
              };
            }
            return { ...l, progress, final: run };
          });
          runs.reload();
          tables.reload();
        },
        error: (message) => setLive((l) => (l && l.id === id ? { ...l, error: message } : l)),
      });
    },
    [runs.reload, tables.reload, refreshPreview],
  );

  // The run the add form started, handed over with the navigation: followed even if it has ended.
  useEffect(() => {
    const handed = (history.state as { followRun?: unknown } | null)?.followRun;
    if (typeof handed === "string") follow(handed, false);
  }, []);

  // Pick up a run that is already going (started from the CLI, another tab, or before this
  // page was reloaded): its progress and log so far arrive first.
  const latest = runs.data?.[0];
  useEffect(() => {
    if (latest && (latest.status === "running" || latest.status === "queued") && live?.id !== latest.id) follow(latest.id, latest.fullRefresh);
  }, [latest?.id, latest?.status]);
  useEffect(() => () => stopRef.current?.(), []);

  const running = live !== undefined && live.final === undefined && live.error === undefined;

  /** The ticked entities are the source's selection: saved as they change, in order. */
  const changeSelection = (next: string[]) => {
    setEntities(next);
    setSyncError(undefined);
    if (next.length === 0) {
      setSelectionNote({ text: "Pick at least one entity; until then the saved selection stays as it was.", error: true });
      return;
    }
    const all = next.length === available.length;
    setSelectionNote({ text: "Saving…" });
    savingSelection.current = savingSelection.current
      .then(() => api.updateSource(source.name, { entities: all ? null : next }))
      .then(
        () => setSelectionNote({ text: `Saved: a sync reads ${describeSelection(next, available)}.` }),
        (err: unknown) => setSelectionNote({ text: `The selection was not saved: ${err instanceof Error ? err.message : String(err)}`, error: true }),
      );
  };

  const startSync = async () => {
    setSyncError(undefined);
    if (entities.length === 0) {
      setSyncError("Pick at least one entity to sync.");
      return;
    }
    try {
      await savingSelection.current;
      const all = entities.length === available.length;
      const { runId } = await api.sync(source.name, { ...(all ? {} : { entities }), ...(fullRefresh ? { fullRefresh: true } : {}) });
      follow(runId, fullRefresh);
      // A full refresh is a one-off: the next sync is incremental unless asked again.
      setFullRefresh(false);
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

  const progress = live ? orderedProgress(live, available) : [];
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
          <button type="button" className="button button-danger-quiet" onClick={() => setRemoving(true)}>
            Remove
          </button>
        </div>
      </header>
      {removing && <RemoveSourceDialog name={source.name} onRemoved={() => navigate("/")} onCancel={() => setRemoving(false)} />}
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
          {live && (
            <div className="run-state">
              {live.fullRefresh && <span className="tag tag-neutral">Full refresh</span>}
              {final ? <StatusBadge status={final.status} /> : live.error ? <StatusBadge status="failed" /> : <StatusBadge status="running" />}
            </div>
          )}
        </div>
        <EntityPicker entities={available} selected={entities} onChange={changeSelection} disabled={running}>
          <span role="status" data-testid="selection-note" className={selectionNote?.error ? "error-text" : undefined}>
            {selectionNote?.text ?? "Saved with the source: every sync reads the ticked entities."}
          </span>
        </EntityPicker>
        <div className="sync-actions">
          <div>
            <label className="checkbox">
              <input type="checkbox" checked={fullRefresh} onChange={(e) => setFullRefresh(e.target.checked)} disabled={running} aria-describedby="full-refresh-help" />
              Full refresh
            </label>
            <p className="help" id="full-refresh-help">
              Re-reads everything; rows gone from the source are marked deleted. For the next sync only.
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
              <p className={`banner ${final.status === "succeeded" ? "banner-success" : final.status === "cancelled" ? "banner-info" : "banner-error"} wrap-anywhere`} data-testid="run-summary">
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

      <SchedulePanel source={source.name} onFired={runs.reload} />

      {/* Keyed on the source's last change: saved settings (a secret set) show at once. */}
      <WebhookPanel key={source.updatedAt} source={source.name} />

      <div className="card">
        <div className="card-head">
          <h2>Data preview</h2>
        </div>
        {tables.error ? <p className="error-text">{tables.error}</p> : tables.data ? <DataPreview source={source.name} tables={inEntityOrder(tables.data, available)} /> : <p className="muted small">Loading…</p>}
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

function inEntityOrder<T extends { entity: string }>(items: T[], entities: EntityInfo[]): T[] {
  const order = entities.map((e) => e.name);
  const rank = (x: T) => (order.includes(x.entity) ? order.indexOf(x.entity) : order.length);
  return [...items].sort((a, b) => rank(a) - rank(b));
}

function orderedProgress(live: LiveRun, entities: EntityInfo[]): ProgressEvent[] {
  const order = entities.map((e) => e.name);
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
