import { readPath } from "../base/declarative/jsonPath";
import { placeholdersOf } from "./config";

/** The values a parent record gives a sub-resource's `{placeholders}`, as strings. */
export function placeholderValues(path: string, parentRecord: Record<string, unknown>, where: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const field of placeholdersOf(path)) {
    const value = readPath(parentRecord, field);
    if (value === undefined || value === null || typeof value === "object") {
      throw Object.assign(new Error(`${where}: parent record has no usable "${field}" for {${field}} (got ${JSON.stringify(value) ?? "nothing"})`), {
        retryable: false,
      });
    }
    values[field] = String(value);
  }
  return values;
}

export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{([^{}]+)\}/g, (_, field: string) => encodeURIComponent(values[field] ?? ""));
}

/**
 * Adds `<parent>_<field>` to each child record (unless the API already sends that field), so
 * a post fetched from /users/{id}/posts says which user it belongs to.
 */
export function tagWithParent(records: Record<string, unknown>[], parent: string, values: Record<string, string>): void {
  for (const record of records) {
    for (const [field, value] of Object.entries(values)) {
      const column = `${parent}_${field.replace(/\./g, "_")}`;
      if (!(column in record)) record[column] = value;
    }
  }
}

/** Base URL + entity path, whatever slashes each has. Absolute paths pass through. */
export function joinUrl(base: string, path: string): string {
  if (/^https?:\/\//.test(path)) return path;
  return `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}
