import { useEffect, useState, type FormEvent } from "react";
import { api, ApiError } from "../api/client";
import type { ConnectorInfo, TestResult } from "../api/types";
import { ConnectorIcon } from "../components/ConnectorIcon";
import { EntityPicker } from "../components/EntityPicker";
import { fieldErrorOf } from "../components/fieldErrors";
import { Link, navigate } from "../components/router";
import { initialValues, SchemaForm, toConfig, type FormValues } from "../components/SchemaForm";
import { useAsync } from "../components/useAsync";

export function AddSourceScreen({ connectorId }: { connectorId: string }) {
  const loaded = useAsync(async () => {
    const [connectors, sources] = await Promise.all([api.connectors(), api.sources()]);
    return { connectors, taken: sources.map((s) => s.name) };
  }, []);
  const connector = loaded.data?.connectors.find((c) => c.id === connectorId);
  if (loaded.error) return <p className="banner banner-error">{loaded.error}</p>;
  if (!loaded.data) return <p className="muted page">Loading…</p>;
  if (!connector)
    return (
      <section className="page">
        <p className="banner banner-error">Unknown connector “{connectorId}”.</p>
        <Link href="/connectors">Back to the catalog</Link>
      </section>
    );
  return <AddSourceForm connector={connector} taken={loaded.data.taken} />;
}

/** The connector's id as a source name, made free: "sample", else "sample_2", "sample_3"… */
function freeName(connectorId: string, taken: string[]): string {
  let base = connectorId.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  if (!/^[a-z]/.test(base)) base = `source_${base}`;
  base = base.slice(0, 56);
  if (!taken.includes(base)) return base;
  for (let n = 2; ; n++) if (!taken.includes(`${base}_${n}`)) return `${base}_${n}`;
}

const SYNC_NOW_LABEL = "Start a sync right after saving";

function AddSourceForm({ connector, taken }: { connector: ConnectorInfo; taken: string[] }) {
  const [name, setName] = useState(() => freeName(connector.id, taken));
  const [values, setValues] = useState<FormValues>(() => initialValues(connector.configSchema));
  const [entities, setEntities] = useState(connector.entities.map((e) => e.name));
  const [syncNow, setSyncNow] = useState(true);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string>();
  const [test, setTest] = useState<TestResult & { pending?: boolean }>();
  const [phase, setPhase] = useState<"testing" | "saving">();
  /** Why the connection test run by Save failed: the form then offers to save anyway. */
  const [failedTest, setFailedTest] = useState<string>();
  /** Data an earlier source of this name left: the form asks whether to continue from it or drop it. */
  const [leftovers, setLeftovers] = useState<{ message: string; testFirst: boolean }>();

  useEffect(() => {
    document.title = `Add ${connector.name} · Mako`;
  }, [connector.name]);

  const change = (key: string, value: string | boolean) => {
    setValues((v) => ({ ...v, [key]: value }));
    setErrors(({ [key]: _dropped, ...rest }) => rest);
    setTest(undefined);
    setFailedTest(undefined);
    setLeftovers(undefined);
  };

  /** Client-side checks; returns the config or null (errors shown on their fields). */
  const validate = (): Record<string, unknown> | null => {
    const { config, errors: found } = toConfig(connector.configSchema, values);
    if (!name.trim()) found.name = "Name is required";
    setErrors(found);
    return Object.keys(found).length ? null : config;
  };

  const showApiError = (err: unknown) => {
    const { field, message } = fieldErrorOf(err);
    if (field) setErrors((e) => ({ ...e, [field]: message }));
    else setFormError(message);
  };

  const runTest = async () => {
    setFormError(undefined);
    const config = validate();
    if (!config) return;
    setTest({ success: false, message: "Testing…", pending: true });
    try {
      setTest(await api.testConfig(connector.id, config));
    } catch (err) {
      setTest(undefined);
      showApiError(err);
    }
  };

  /** Saves the source, testing its connection first unless the user chose to save anyway. */
  const save = async (testFirst: boolean, data?: "adopt" | "drop") => {
    setFormError(undefined);
    setFailedTest(undefined);
    setLeftovers(undefined);
    // Every problem at once: the fields' and the entities'.
    const config = validate();
    const noEntity = syncNow && entities.length === 0;
    if (noEntity) setFormError(`Pick at least one entity to sync, or untick “${SYNC_NOW_LABEL}”.`);
    if (!config || noEntity) return;
    setPhase(testFirst ? "testing" : "saving");
    // All (or, without a sync now, none) ticked: saved as "all", which includes entities added later.
    const all = entities.length === connector.entities.length || entities.length === 0;
    let saved: string;
    try {
      saved = (await api.addSource({ name: name.trim(), connector: connector.id, config, entities: all ? null : entities, test: testFirst, data })).name;
    } catch (err) {
      setPhase(undefined);
      if (err instanceof ApiError && err.status === 422) setFailedTest(err.message);
      else if (err instanceof ApiError && err.status === 409 && err.field === "data") setLeftovers({ message: err.message, testFirst });
      else if (err instanceof ApiError && err.status === 409 && !err.field) setErrors((x) => ({ ...x, name: err.message }));
      else showApiError(err);
      return;
    }
    let runId: string | undefined;
    if (syncNow) {
      try {
        // The selection was saved with the source: a sync that names no entities reads it.
        runId = (await api.sync(saved, {})).runId;
      } catch (err) {
        setPhase(undefined);
        setFormError(`Saved “${saved}”, but its sync did not start: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
    }
    // The source page follows this run even if it ends (a wrong key fails fast) before the page loads.
    navigate(`/sources/${encodeURIComponent(saved)}`, runId ? { followRun: runId } : null);
  };

  return (
    <section className="page page-narrow">
      <nav className="breadcrumbs" aria-label="Breadcrumb">
        <Link href="/connectors">Connectors</Link> <span aria-hidden="true">/</span> <span>{connector.name}</span>
      </nav>
      <header className="page-header">
        <div className="title-with-icon">
          <ConnectorIcon id={connector.id} size={44} />
          <div>
            <h1>Add a {connector.name} source</h1>
            <p className="muted">{connector.description}</p>
          </div>
        </div>
      </header>
      <form
        className="card form"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          void save(true);
        }}
        noValidate aria-label={`New ${connector.name} source`}>
        <div className={`field${errors.name ? " field-invalid" : ""}`} data-field="name">
          <label htmlFor="source-name">
            Name<span className="required" aria-label="required"> *</span>
          </label>
          <input
            id="source-name"
            name="name"
            value={name}
            autoComplete="off"
            aria-invalid={errors.name ? true : undefined}
            aria-describedby={errors.name ? "source-name-error" : "source-name-help"}
            onChange={(e) => {
              setName(e.target.value);
              setErrors(({ name: _dropped, ...rest }) => rest);
            }}
          />
          <p className="help" id="source-name-help">
            Also the name of its tables in your database.
          </p>
          {errors.name && (
            <p className="error-text" id="source-name-error" role="alert">
              {errors.name}
            </p>
          )}
        </div>
        <h2 className="form-section">Configuration</h2>
        <SchemaForm schema={connector.configSchema} values={values} errors={errors} onChange={change} />
        <h2 className="form-section">What to sync</h2>
        <EntityPicker entities={connector.entities} selected={entities} onChange={setEntities}>
          Saved with the source: every sync reads the ticked entities. You can change them on the source's page.
        </EntityPicker>
        <label className="checkbox">
          <input type="checkbox" checked={syncNow} onChange={(e) => setSyncNow(e.target.checked)} />
          {SYNC_NOW_LABEL}
        </label>
        {test && (
          <p className={`banner ${test.pending ? "banner-info" : test.success ? "banner-success" : "banner-error"}`} role="status" data-testid="test-result">
            {test.message}
          </p>
        )}
        {formError && (
          <p className="banner banner-error" role="alert">
            {formError}
          </p>
        )}
        {failedTest && (
          <div className="banner banner-error banner-with-action" role="alert" data-testid="save-test-failed">
            <div>
              <p>
                <strong>The connection test failed:</strong> <span className="wrap-anywhere">{failedTest}</span>
              </p>
              <p className="small">Fix the configuration and save again, or save the source as it is and fix it later.</p>
            </div>
            <button type="button" className="button" onClick={() => void save(false)} disabled={phase !== undefined}>
              Save anyway
            </button>
          </div>
        )}
        {leftovers && (
          <div className="banner banner-error banner-with-action" role="alert" data-testid="save-leftovers">
            <div>
              <p className="wrap-anywhere">
                <strong>{whatIsLeft(leftovers.message)}</strong>
              </p>
              <p className="small">Continue from that data (the next sync picks up where it left off), or delete it and start clean.</p>
            </div>
            <div className="form-actions">
              <button type="button" className="button" onClick={() => void save(leftovers.testFirst, "adopt")} disabled={phase !== undefined}>
                Continue from it
              </button>
              <button type="button" className="button button-danger" onClick={() => void save(leftovers.testFirst, "drop")} disabled={phase !== undefined}>
                Delete it first
              </button>
            </div>
          </div>
        )}
        <div className="form-actions">
          <button type="button" className="button" onClick={runTest} disabled={test?.pending || phase !== undefined}>
            Test connection
          </button>
          <button type="submit" className="button button-primary" disabled={phase !== undefined}>
            {phase === "testing" ? "Testing connection…" : phase === "saving" ? "Saving…" : syncNow ? "Save and sync" : "Save source"}
          </button>
        </div>
      </form>
    </section>
  );
}

/** The server's line without its CLI advice (the buttons below give the same choice). */
function whatIsLeft(message: string): string {
  const what = message.replace(/: adopt it .*$/, ".");
  return what.charAt(0).toUpperCase() + what.slice(1);
}
