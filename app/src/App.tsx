import { useEffect, useState, type FormEvent } from "react";
import { onUnauthorized, setToken } from "./api/client";
import { Link, match, usePath } from "./components/router";
import { AddSourceScreen } from "./screens/AddSourceScreen";
import { CatalogScreen } from "./screens/CatalogScreen";
import { SourceScreen } from "./screens/SourceScreen";
import { SourcesScreen } from "./screens/SourcesScreen";

function Screen({ path }: { path: string }) {
  let params: Record<string, string> | null;
  if (path === "/" || path === "") return <SourcesScreen />;
  if (path === "/connectors" || path === "/connectors/") return <CatalogScreen />;
  if ((params = match("/connectors/:id/new", path))) return <AddSourceScreen key={params.id} connectorId={params.id} />;
  if ((params = match("/sources/:name", path))) return <SourceScreen key={params.name} name={params.name} />;
  return (
    <section className="page">
      <h1>Not found</h1>
      <p className="muted">Nothing lives at {path}.</p>
      <Link href="/">Back to sources</Link>
    </section>
  );
}

export function App() {
  const path = usePath();
  const [needsToken, setNeedsToken] = useState(false);
  useEffect(() => onUnauthorized(() => setNeedsToken(true)), []);
  useEffect(() => {
    if (path === "/") document.title = "Sources · Mako";
    else if (path.startsWith("/connectors") && !path.endsWith("/new")) document.title = "Connectors · Mako";
  }, [path]);
  const section = path.startsWith("/connectors") ? "connectors" : "sources";
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/" className="brand" aria-label="Mako home">
          <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
            <rect width="32" height="32" rx="8" fill="var(--brand)" />
            <path d="M8 22V10l8 7 8-7v12" stroke="white" strokeWidth="3" fill="none" strokeLinejoin="round" />
          </svg>
          <span>Mako</span>
        </Link>
        <nav className="topnav" aria-label="Main">
          <Link href="/" aria-current={section === "sources" ? "page" : undefined}>
            Sources
          </Link>
          <Link href="/connectors" aria-current={section === "connectors" ? "page" : undefined}>
            Connectors
          </Link>
        </nav>
      </header>
      <main id="main">{needsToken ? <TokenPrompt onDone={() => setNeedsToken(false)} /> : <Screen path={path} />}</main>
    </>
  );
}

/** Shown when the server is bound beyond loopback and asks for its API token. */
function TokenPrompt({ onDone }: { onDone(): void }) {
  const [value, setValue] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setToken(value.trim() || null);
    onDone();
  };
  return (
    <section className="page page-narrow">
      <form className="card form" onSubmit={submit}>
        <h1>API token required</h1>
        <p className="muted">
          This Mako server is reachable from other machines, so it asks for its token. It was printed when the server first started
          (or set with <code>MAKO_API_TOKEN</code>).
        </p>
        <div className="field">
          <label htmlFor="api-token">Token</label>
          <input id="api-token" type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} autoFocus />
        </div>
        <div className="form-actions">
          <button type="submit" className="button button-primary">
            Continue
          </button>
        </div>
      </form>
    </section>
  );
}
