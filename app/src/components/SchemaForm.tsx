import type { JsonSchema } from "../api/types";

/** Form state: one raw string (or boolean) per top-level config field, converted on submit. */
export type FormValues = Record<string, string | boolean>;

function kindOf(schema: JsonSchema): "boolean" | "integer" | "number" | "enum" | "string" | "json" {
  if (schema.enum) return "enum";
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (type === "boolean" || type === "integer" || type === "number" || type === "string") return type;
  if (schema.anyOf) {
    const first = schema.anyOf.find((s) => s.type !== "null");
    if (first) return kindOf(first);
  }
  return "json";
}

const ACRONYMS = new Set(["api", "url", "id", "ms", "sql", "ssl", "oauth", "http", "https", "json", "eu", "us"]);

/** "api_key" → "API key", "pageDelayMs" → "Page delay ms" (units stay lower case). */
function humanize(key: string): string {
  const words = key.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/[_-]+/g, " ").trim().toLowerCase().split(" ");
  const shown = words.map((w, i) => (ACRONYMS.has(w) && w !== "ms" ? w.toUpperCase() : i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w));
  return shown.join(" ");
}

function jsonPlaceholder(schema: JsonSchema): string {
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  return type === "array" ? "[ … ]" : type === "object" ? "{ … }" : "JSON value";
}

/** Starting values: the schema's defaults, overlaid with a stored config (secrets stay empty). */
export function initialValues(schema: JsonSchema, config: Record<string, unknown> = {}): FormValues {
  const values: FormValues = {};
  for (const [key, field] of Object.entries(schema.properties ?? {})) {
    const value = field.secret ? undefined : (config[key] ?? field.default);
    const kind = kindOf(field);
    if (kind === "boolean") values[key] = value === true;
    else if (value === undefined || value === null) values[key] = "";
    else values[key] = kind === "json" ? JSON.stringify(value, null, 2) : String(value);
  }
  return values;
}

/**
 * Turns the form's strings into a config object. Empty optional fields are left out (the
 * connector's defaults apply); a missing required field or malformed value is an error per field.
 */
export function toConfig(
  schema: JsonSchema,
  values: FormValues,
  options: { keepSecrets?: Record<string, "set" | "unset"> } = {},
): { config: Record<string, unknown>; errors: Record<string, string> } {
  const config: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  const required = new Set(schema.required ?? []);
  for (const [key, field] of Object.entries(schema.properties ?? {})) {
    const raw = values[key];
    const kind = kindOf(field);
    if (kind === "boolean") {
      config[key] = raw === true;
      continue;
    }
    const text = typeof raw === "string" ? raw.trim() : "";
    if (text === "") {
      // A stored secret left blank keeps its value.
      const stored = field.secret && options.keepSecrets?.[key] === "set";
      if (required.has(key) && !stored) errors[key] = `${humanize(key)} is required`;
      continue;
    }
    if (kind === "integer" || kind === "number") {
      const n = Number(text);
      const bounds = field.anyOf?.find((s) => s.type !== "null") ?? field;
      if (!Number.isFinite(n) || (kind === "integer" && !Number.isInteger(n))) {
        errors[key] = `${humanize(key)} must be ${kind === "integer" ? "a whole number" : "a number"}`;
      } else if (bounds.minimum !== undefined && n < bounds.minimum) {
        errors[key] = `${humanize(key)} must be at least ${bounds.minimum}`;
      } else if (bounds.maximum !== undefined && n > bounds.maximum) {
        errors[key] = `${humanize(key)} must be at most ${bounds.maximum}`;
      } else config[key] = n;
    } else if (kind === "json") {
      try {
        config[key] = JSON.parse(text);
      } catch {
        errors[key] = `${humanize(key)} must be valid JSON`;
      }
    } else config[key] = text;
  }
  return { config, errors };
}

interface SchemaFormProps {
  schema: JsonSchema;
  values: FormValues;
  errors: Record<string, string>;
  onChange(key: string, value: string | boolean): void;
  /** For an existing source: which secrets are stored. */
  secrets?: Record<string, "set" | "unset">;
  idPrefix?: string;
}

/** Inputs generated from a connector's JSON Schema: one per top-level property. */
export function SchemaForm({ schema, values, errors, onChange, secrets, idPrefix = "cfg" }: SchemaFormProps) {
  const required = new Set(schema.required ?? []);
  const entries = Object.entries(schema.properties ?? {});
  if (entries.length === 0) return <p className="muted">This connector needs no configuration.</p>;
  return (
    <>
      {entries.map(([key, field]) => {
        const id = `${idPrefix}-${key}`;
        const kind = kindOf(field);
        const error = errors[key];
        const describedBy = [field.description ? `${id}-help` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
        const common = {
          id,
          name: key,
          "aria-invalid": error ? true : undefined,
          "aria-describedby": describedBy || undefined,
        };
        const label = field.title ?? humanize(key);
        const stored = field.secret && secrets?.[key] === "set";
        return (
          <div className={`field${error ? " field-invalid" : ""}`} key={key} data-field={key}>
            {kind === "boolean" ? (
              <label className="checkbox" htmlFor={id}>
                <input {...common} type="checkbox" checked={values[key] === true} onChange={(e) => onChange(key, e.target.checked)} />
                {label}
              </label>
            ) : (
              <label htmlFor={id}>
                {label}
                {required.has(key) && !stored && <span className="required" aria-label="required"> *</span>}
                {field.secret && <span className="tag">secret</span>}
                {kind === "json" && <span className="tag tag-neutral">JSON</span>}
              </label>
            )}
            {kind === "enum" && (
              <select {...common} value={String(values[key] ?? "")} onChange={(e) => onChange(key, e.target.value)}>
                {!required.has(key) && <option value="">—</option>}
                {field.enum!.map((v) => (
                  <option key={String(v)} value={String(v)}>
                    {String(v)}
                  </option>
                ))}
              </select>
            )}
            {(kind === "string" || kind === "integer" || kind === "number") && (
              <input
                {...common}
                type={field.secret ? "password" : kind === "string" ? "text" : "number"}
                inputMode={kind === "string" ? undefined : kind === "integer" ? "numeric" : "decimal"}
                autoComplete={field.secret ? "new-password" : "off"}
                placeholder={stored ? "Stored — leave blank to keep" : field.default !== undefined ? String(field.default) : undefined}
                value={String(values[key] ?? "")}
                onChange={(e) => onChange(key, e.target.value)}
              />
            )}
            {kind === "json" && (
              <textarea
                {...common}
                rows={4}
                spellCheck={false}
                placeholder={jsonPlaceholder(field)}
                value={String(values[key] ?? "")}
                onChange={(e) => onChange(key, e.target.value)}
              />
            )}
            {field.description && (
              <p className="help" id={`${id}-help`}>
                {field.description}
              </p>
            )}
            {error && (
              <p className="error-text" id={`${id}-error`} role="alert">
                {error}
              </p>
            )}
          </div>
        );
      })}
    </>
  );
}
