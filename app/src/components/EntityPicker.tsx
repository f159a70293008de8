import type { EntityInfo } from "../api/types";

interface EntityPickerProps {
  entities: EntityInfo[];
  selected: string[];
  onChange(selected: string[]): void;
  disabled?: boolean;
}

/** Checkboxes for the entities to sync; an empty selection is refused by the caller. */
export function EntityPicker({ entities, selected, onChange, disabled }: EntityPickerProps) {
  const all = selected.length === entities.length;
  const toggle = (name: string) =>
    onChange(selected.includes(name) ? selected.filter((n) => n !== name) : entities.filter((e) => e.name === name || selected.includes(e.name)).map((e) => e.name));
  return (
    <fieldset className="entity-picker" disabled={disabled}>
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
    </fieldset>
  );
}
