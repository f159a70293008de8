const labels: Record<string, string> = {
  queued: "Queued",
  pending: "Pending",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
  interrupted: "Interrupted",
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${status}`} data-status={status}>
      {status === "running" && <span className="pulse" aria-hidden="true" />}
      {labels[status] ?? status}
    </span>
  );
}
