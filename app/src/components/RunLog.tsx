import { useEffect, useRef } from "react";
import type { LogLine } from "../api/types";

/** A run's log lines, newest at the bottom, following the tail while it grows. */
export function RunLog({ lines, label = "Run log" }: { lines: LogLine[]; label?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines.length]);
  if (lines.length === 0) return <p className="muted small">No log lines.</p>;
  return (
    <div className="log" ref={ref} role="log" aria-label={label} tabIndex={0}>
      {lines.map((l, i) => (
        <div key={i} className={`log-line log-${l.level}`}>
          <time dateTime={l.at}>{new Date(l.at).toLocaleTimeString("en-US", { hour12: false })}</time>
          <span className="log-level">{l.level}</span>
          {l.entity && <span className="log-entity">{l.entity}</span>}
          <span className="log-message">{l.message}</span>
        </div>
      ))}
    </div>
  );
}
