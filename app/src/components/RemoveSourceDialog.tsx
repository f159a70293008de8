import { useState } from "react";
import { api } from "../api/client";
import { ConfirmDialog } from "./ConfirmDialog";

type DataChoice = "keep" | "drop";

/**
 * Removing a source asks what becomes of its synced data, as `mako sources remove` does with
 * --keep-data / --drop-data: nothing is chosen for the user, and Remove waits for a choice.
 */
export function RemoveSourceDialog({ name, onRemoved, onCancel }: { name: string; onRemoved(): void; onCancel(): void }) {
  const [data, setData] = useState<DataChoice>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const remove = async () => {
    if (!data) return;
    setBusy(true);
    setError(undefined);
    try {
      await api.removeSource(name, data);
      onRemoved();
    } catch (err) {
      setBusy(false);
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  const option = (value: DataChoice, label: string, help: string) => (
    <label className={`entity-option${data === value ? " is-selected" : ""}`}>
      <input type="radio" name="source-data" value={value} checked={data === value} onChange={() => setData(value)} disabled={busy} />
      <span className="entity-name">{label}</span>
      <span className="entity-meta">{help}</span>
    </label>
  );

  return (
    <ConfirmDialog
      title={`Remove “${name}”?`}
      confirmLabel="Remove source"
      busyLabel="Removing…"
      busy={busy}
      confirmDisabled={!data}
      error={error}
      onConfirm={() => void remove()}
      onCancel={onCancel}
    >
      <p>Mako forgets the source, its configuration and its saved credentials. What becomes of the data it synced?</p>
      <fieldset className="entity-picker">
        <legend>Its tables and checkpoints</legend>
        <div className="dialog-choices">
          {option("keep", "Keep them", "A source added later under this name is asked whether to continue from them.")}
          {option("drop", "Delete them", "Drops its tables and checkpoints in every database it synced to.")}
        </div>
      </fieldset>
    </ConfirmDialog>
  );
}
