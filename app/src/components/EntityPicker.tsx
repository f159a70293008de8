import { useId, type ReactNode } from "react";
import type { EntityInfo } from "../api/types";

interface EntityPickerProps {
  entities: EntityInfo[];
  selected: string[];
  onChange(selected: string[]): void;
  disabled?: boolean;
  /** A line under the boxes (what the selection does), read with the group. */
  children?: ReactNode;
}

/** Checkboxes for the entities to sync; an empty selection is refused by the caller. */
export function EntityPicker({ entities, selected, onChange, disabled, children }: EntityPickerProps) {
  const helpId = useId();
  const all = selected.length === entities.length;
  const toggle = (name: string) =>
    onChange(selected.includes(name) ? selected.filter((n) => n !== name) : entities.filter((e) => e.name === name || selected.includes(e.name)).map((e) => e.name));
  return (
    <fieldset className="entity-picker" disabled={disabled} aria-describedby={children ? helpId : undefined}>
      <legend>
        Entities
        <button type="button" className="link-button" onClick={() => onChange(all ? [] : entities.map((e) => e.name))}>
          {all ? "Select none" : "Select all"}
        </button>
      </legend>
      <div className="entity-grid">
        {entities.map((e) => (
          <label key={e.name} className={`entity-option${selected.includes(e.name) ? " is-selected" : ""}`}>
            <input type="checkbox" name="entity" value={e.name} checked={selected.includes(e.name)} onChange={() => toggle(e.name)} />
            <span className="entity-name">{e.name}</span>
            <span className="entity-meta">{e.incremental ? `incremental${e.cursorField ? ` · ${e.cursorField}` : ""}` : "full read"}</span>
          </label>
        ))}
      </div>
      {children && (
        <div className="help entity-help" id={helpId}>
          {children}
        </div>
      )}
    </fieldset>
  );
}
