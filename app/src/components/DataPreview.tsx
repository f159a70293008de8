import { useEffect, useState } from "react";
import { api } from "../api/client";
import type { TableInfo } from "../api/types";
import { formatCell, formatNumber } from "./format";
import { useAsync } from "./useAsync";

const PAGE = 25;

/** Tabs of the source's synced tables, each a paged table of rows. */
export function DataPreview({ source, tables }: { source: string; tables: TableInfo[] }) {
  const [entity, setEntity] = useState(tables[0]?.entity);
  const [offset, setOffset] = useState(0);
  useEffect(() => {
    if (!tables.some((t) => t.entity === entity)) setEntity(tables[0]?.entity);
  }, [tables, entity]);
  const table = tables.find((t) => t.entity === entity);
  if (tables.length === 0) return <p className="muted small">Nothing synced yet. Run a sync to see data here.</p>;
  return (
    <div className="preview">
      <div className="tabs" role="tablist" aria-label="Synced tables">
        {tables.map((t) => (
          <button
            key={t.entity}
            type="button"
            role="tab"
            id={`tab-${t.entity}`}
            aria-selected={t.entity === entity}
            aria-controls="preview-panel"
            className="tab"
            onClick={() => {
              setEntity(t.entity);
              setOffset(0);
            }}
          >
            {t.entity} <span className="count">{formatNumber(t.rows)}</span>
          </button>
        ))}
      </div>
      {table && (
        <div id="preview-panel" role="tabpanel" aria-labelledby={`tab-${table.entity}`}>
          <p className="muted small">
            Table <code>{table.table}</code> · {formatNumber(table.rows)} rows · {table.columns.length} columns
          </p>
          <Rows source={source} table={table} offset={offset} onOffset={setOffset} />
        </div>
      )}
    </div>
  );
}

function Rows({ source, table, offset, onOffset }: { source: string; table: TableInfo; offset: number; onOffset(n: number): void }) {
  const page = useAsync(() => api.rows(source, table.entity, PAGE, offset), [source, table.entity, table.rows, offset]);
  if (page.error) return <p className="error-text">{page.error}</p>;
  if (!page.data) return <p className="muted small">Loading…</p>;
  const { rows, columns, total } = page.data;
  return (
    <>
      <div className="table-wrap table-scroll" tabIndex={0} aria-label={`Rows of ${table.entity}`}>
        <table className="table data-table" data-testid="preview-table">
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c} scope="col" className={c.startsWith("_mako_") ? "system-col" : undefined}>
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row, i) => (
              <tr key={i}>
                {columns.map((c) => {
                  const text = formatCell(row[c]);
                  return (
                    <td key={c} title={text.length > 40 ? text : undefined} className={row[c] === null ? "null-cell" : undefined}>
                      {row[c] === null ? "null" : text}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div className="pager">
        <span className="muted small">
          {total === 0 ? "No rows" : `${formatNumber(offset + 1)}–${formatNumber(Math.min(offset + PAGE, total))} of ${formatNumber(total)}`}
        </span>
        <button type="button" className="button button-small" disabled={offset === 0} onClick={() => onOffset(Math.max(0, offset - PAGE))}>
          Previous
        </button>
        <button type="button" className="button button-small" disabled={offset + PAGE >= total} onClick={() => onOffset(offset + PAGE)}>
          Next
        </button>
      </div>
    </>
  );
}
