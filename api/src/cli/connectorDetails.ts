import type { ConnectorInfo } from "../Mako";
import { renderTable } from "./table";

/** What `mako connectors show ID` prints: the connector, its config fields, its entities. */
export function connectorDetails(info: ConnectorInfo): string[] {
  const out = [`${info.id} — ${info.name} ${info.version}: ${info.description}`, ""];
  const fields = configFields(info.configSchema);
  out.push("Config fields (--config-json or --config-file):");
  if (fields.length === 0) out.push("  any keys (the connector declares no schema)");
  else {
    out.push(
      ...renderTable(
        {
          columns: ["FIELD", "TYPE", "REQUIRED", "SECRET", "DEFAULT", "DESCRIPTION"],
          rows: fields.map((f) => [f.path, f.type, f.required ? "yes" : "no", f.secret ? "yes" : "", f.default, f.description]),
        },
        "  ",
      ),
    );
  }
  out.push("", "Entities:");
  if (isDescribedApi(info)) {
    out.push("  named by the config's `entities` list (see docs/declarative.md)");
  } else {
    out.push(
      ...renderTable(
        {
          columns: ["ENTITY", "PRIMARY KEY", "INCREMENTAL", "DESCRIPTION"],
          rows: info.entities.map((e) => [
            e.name,
            e.primaryKey.join(", "),
            e.incremental ? (e.cursorField ? `yes, by ${e.cursorField}` : "yes") : "no (read whole)",
            firstSentence(e.description ?? ""),
          ]),
        },
        "  ",
      ),
    );
  }
  return out;
}

interface FieldRow {
  path: string;
  type: string;
  required: boolean;
  secret: boolean;
  default: string;
  description: string;
}

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  default?: unknown;
  description?: string;
  secret?: boolean;
  additionalProperties?: unknown;
};

/** A connector whose entities come from its config (REST, GraphQL): its schema has an `entities` list. */
function isDescribedApi(info: ConnectorInfo): boolean {
  return (info.configSchema as JsonSchema)?.properties?.entities?.type === "array";
}

/**
 * The config's fields from its JSON Schema, nested ones as `parent.child` and `list[].child`
 * (two levels: deeper ones are the same objects again, e.g. an entity's own paginator). The
 * fields of a union on `type` say which types they belong to.
 */
function configFields(schema: unknown, prefix = "", depth = 0): FieldRow[] {
  const s = schema as JsonSchema;
  if (!s?.properties || depth > 1) return [];
  const rows = new Map<string, FieldRow & { types?: string[] }>();
  const add = (row: FieldRow, type?: string) => {
    const seen = rows.get(row.path);
    if (!seen) rows.set(row.path, { ...row, types: type ? [type] : undefined });
    else if (type) seen.types?.push(type);
  };
  for (const [name, prop] of Object.entries(s.properties)) {
    const path = `${prefix}${name}`;
    add({
      path,
      type: typeOf(prop),
      required: (s.required ?? []).includes(name) && prop.default === undefined,
      secret: prop.secret === true,
      default: prop.default === undefined ? "" : JSON.stringify(prop.default),
      description: prop.description ?? "",
    });
    const variants = prop.oneOf ?? prop.anyOf;
    if (prop.properties) configFields(prop, `${path}.`, depth + 1).forEach((r) => add(r));
    else if (prop.items?.properties) configFields(prop.items, `${path}[].`, depth + 1).forEach((r) => add(r));
    else if (variants && tagsOf(variants)) {
      for (const variant of variants) {
        const tag = String(variant.properties!.type.const);
        const own = { ...variant, properties: Object.fromEntries(Object.entries(variant.properties!).filter(([k]) => k !== "type")) };
        configFields(own, `${path}.`, depth + 1).forEach((r) => add(r, tag));
      }
    }
  }
  return [...rows.values()].map(({ types, ...row }) =>
    types ? { ...row, description: `(type ${types.join(", ")}) ${row.description}`.trimEnd() } : row,
  );
}

/** The first sentence: entity descriptions can run long, and a table row is one line. */
function firstSentence(text: string): string {
  const end = text.search(/\.(\s|$)/);
  return end === -1 ? text : text.slice(0, end + 1).replace(/[;:]$/, ".");
}

function typeOf(p: JsonSchema): string {
  const variants = p.oneOf ?? p.anyOf;
  if (variants) {
    const tags = tagsOf(variants);
    return tags ? `object, type: ${tags.join(" | ")}` : [...new Set(variants.map(typeOf))].join(" | ");
  }
  if (p.enum) return p.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (p.const !== undefined) return JSON.stringify(p.const);
  if (p.type === "array") return `list of ${p.items ? typeOf(p.items) : "values"}`;
  if (p.type === "string" && p.format === "uri") return "URL";
  if (p.type === "object" && !p.properties) return "object of values";
  if (Array.isArray(p.type)) return p.type.join(" | ");
  return p.type ?? "any";
}

/** The `type` values of a union of objects told apart by `type`, or undefined. */
function tagsOf(variants: JsonSchema[]): string[] | undefined {
  const tags = variants.map((v) => v.properties?.type?.const);
  return tags.every((t) => typeof t === "string") ? (tags as string[]) : undefined;
}
