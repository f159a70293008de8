import { api } from "../api/client";
import { formatNumber } from "./format";
import { RunTime } from "./RunTime";
import { useAsync } from "./useAsync";

/**
 * A source's webhook endpoint: the URL to register with the vendor, the events to subscribe
 * to, whether the signing secret is set, and when the last verified event arrived. Nothing for
 * a connector without webhooks.
 */
export function WebhookPanel({ source }: { source: string }) {
  const setup = useAsync(() => api.webhook(source), [source]);
  if (setup.error) return null;
  const w = setup.data;
  if (!w || !w.supported) return null;
  return (
    <div className="card" data-testid="webhook-panel">
      <div className="card-head">
        <h2>Webhooks</h2>
        <button type="button" className="button" onClick={setup.reload}>
          Refresh
        </button>
      </div>
      <p className="small">
        Register this URL with the vendor. Behind a reverse proxy or a tunnel, use your public host instead of this one.
      </p>
      <p>
        <code className="webhook-url" data-testid="webhook-url">
          {w.url}
        </code>
      </p>
      <p className="help">{w.setup}</p>
      <dl className="webhook-facts">
        <dt>Signing secret ({w.secretField})</dt>
        <dd data-testid="webhook-secret">{w.secretSet ? "set" : "not set: deliveries are refused until it is (Settings)"}</dd>
        <dt>Last verified event</dt>
        <dd data-testid="webhook-last">{w.lastEventAt ? <RunTime iso={w.lastEventAt} /> : "none yet"}</dd>
        <dt>Waiting to be applied</dt>
        <dd>{formatNumber(w.pending ?? 0)}</dd>
      </dl>
      <details>
        <summary>Events to subscribe to ({w.subscribe?.length ?? 0})</summary>
        <ul className="webhook-events">
          {w.subscribe?.map((e) => (
            <li key={e}>
              <code>{e}</code>
            </li>
          ))}
        </ul>
      </details>
    </div>
  );
}
