import { useMemo, useState } from "react";
import { api } from "../api/client";
import { ConnectorIcon } from "../components/ConnectorIcon";
import { Link } from "../components/router";
import { useAsync } from "../components/useAsync";

export function CatalogScreen() {
  const connectors = useAsync(() => api.connectors(), []);
  const [query, setQuery] = useState("");
  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    const list = connectors.data ?? [];
    if (!q) return list;
    return list.filter((c) =>
      [c.id, c.name, c.description, ...c.entities.map((e) => e.name)].some((text) => text.toLowerCase().includes(q)),
    );
  }, [connectors.data, query]);

  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>Connectors</h1>
          <p className="muted">Choose where your data comes from.</p>
        </div>
      </header>
      <div className="search">
        <label htmlFor="connector-search" className="visually-hidden">
          Search connectors
        </label>
        <input
          id="connector-search"
          type="search"
          placeholder="Search connectors or entities…"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          autoFocus
        />
      </div>
      {connectors.error && <p className="banner banner-error">{connectors.error}</p>}
      {connectors.loading && !connectors.data && <p className="muted">Loading…</p>}
      {connectors.data && shown.length === 0 && <p className="muted">No connector matches “{query}”.</p>}
      <ul className="catalog" aria-label="Connectors">
        {shown.map((c) => (
          <li key={c.id}>
            <Link className="card connector-card" href={`/connectors/${encodeURIComponent(c.id)}/new`} data-connector={c.id}>
              <div className="connector-card-head">
                <ConnectorIcon id={c.id} size={40} />
                <div>
                  <strong>{c.name}</strong>
                  <span className="muted small">v{c.version}</span>
                </div>
              </div>
              <p className="connector-desc">{c.description}</p>
              <p className="muted small">
                {c.entities.length} {c.entities.length === 1 ? "entity" : "entities"}: {c.entities.map((e) => e.name).join(", ")}
              </p>
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}
