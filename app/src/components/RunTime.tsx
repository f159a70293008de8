import { useEffect, useState } from "react";
import { formatAgo, formatDate } from "./format";

/** One clock for every RunTime on the page, so "5 min ago" stays true while the page is open. */
const listeners = new Set<(now: Date) => void>();
let timer: ReturnType<typeof setInterval> | undefined;

function useNow(): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    listeners.add(setNow);
    timer ??= setInterval(() => {
      const at = new Date();
      listeners.forEach((l) => l(at));
    }, 30_000);
    return () => {
      listeners.delete(setNow);
      if (listeners.size === 0) {
        clearInterval(timer);
        timer = undefined;
      }
    };
  }, []);
  return now;
}

/** When a run started: its date and time, and how long ago. */
export function RunTime({ iso }: { iso: string | null | undefined }) {
  const now = useNow();
  if (!iso) return <span>–</span>;
  return (
    <time className="run-time" dateTime={iso} title={new Date(iso).toLocaleString("en-US")}>
      <span className="run-time-date">{formatDate(iso, now)}</span> <span className="run-time-ago muted">· {formatAgo(iso, now)}</span>
    </time>
  );
}
