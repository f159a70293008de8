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
  const connectors = useAsync(() => api.connectors(), []);
  const connector = connectors.data?.find((c) => c.id === connectorId);
  if (connectors.error) return <p className="banner banner-error">{connectors.error}</p>;
  if (!connectors.data) return <p className="muted page">Loading…</p>;
  if (!connector)
    return (
      <section className="page">
        <p className="banner banner-error">Unknown connector “{connectorId}”.</p>
        <Link href="/connectors">Back to the catalog</Link>
      </section>
    );
  return <AddSourceForm connector={connector} />;
}

function AddSourceForm({ connector }: { connector: ConnectorInfo }) {
  const [name, setName] = useState(connector.id.replace(/[^a-zA-Z0-9_]/g, "_"));
  const [values, setValues] = useState<FormValues>(() => initialValues(connector.configSchema));
  const [entities, setEntities] = useState(connector.entities.map((e) => e.name));
  const [syncNow, setSyncNow] = useState(true);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string>();
  const [test, setTest] = useState<TestResult & { pending?: boolean }>();
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    document.title = `Add ${connector.name} · Mako`;
  }, [connector.name]);

  const change = (key: string, value: string | boolean) => {
    setValues((v) => ({ ...v, [key]: value }));
    setErrors(({ [key]: _dropped, ...rest }) => rest);
    setTest(undefined);
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

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setFormError(undefined);
    const config = validate();
    if (!config) return;
    if (syncNow && entities.length === 0) {
      setFormError("Pick at least one entity to sync, or untick “Sync now”.");
      return;
    }
    setSaving(true);
    try {
      const source = await api.addSource({ name: name.trim(), connector: connector.id, config });
      if (syncNow) {
        const all = entities.length === connector.entities.length;
        await api.sync(source.name, all ? {} : { entities });
      }
      navigate(`/sources/${encodeURIComponent(source.name)}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && !err.field) setErrors((x) => ({ ...x, name: err.message }));
      else showApiError(err);
      setSaving(false);
    }
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
      <form className="card form" onSubmit={save} noValidate aria-label={`New ${connector.name} source`}>
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
        <EntityPicker entities={connector.entities} selected={entities} onChange={setEntities} />
        <label className="checkbox">
          <input type="checkbox" checked={syncNow} onChange={(e) => setSyncNow(e.target.checked)} />
          Start a sync right after saving
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
        <div className="form-actions">
          <button type="button" className="button" onClick={runTest} disabled={test?.pending}>
            Test connection
          </button>
          <button type="submit" className="button button-primary" disabled={saving}>
            {saving ? "Saving…" : syncNow ? "Save and sync" : "Save source"}
          </button>
        </div>
      </form>
    </section>
  );
}
