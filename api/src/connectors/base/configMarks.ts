import { z } from "zod";
import { CREDENTIAL_NAME } from "./http/SecretRedactor";
import { MAX_CONFIG_DEPTH } from "./nesting";
import { hasMark } from "./secret";

/** Where a value sits in a config: `["auth", "token"]`, `["entities", 0, "headers", "Cookie"]`. */
export type ConfigPath = (string | number)[];

/** A field the config's schema says something about, present in the value or only declared. */
export interface MarkedField {
  path: ConfigPath;
  present: boolean;
  /** How it was found: a schema mark, a credential-looking name in a header/param map, or a name alone. */
  by: "schema" | "credential-map" | "name";
}

export interface ConfigMarks {
  /** Secret fields: those `secret()` marks, and credential-looking entries of `credentialMap()`s. */
  secrets: MarkedField[];
  /** Fields that decide where requests go (`requestTarget()`). */
  targets: MarkedField[];
}

/**
 * Keys that name a credential whatever the schema says: the fallback for configs whose schema
 * does not describe them (a connector with a free-form config).
 */
const SECRET_NAME = /(pass(word)?|secret|token|api[-_]?key|private[-_]?key|authorization|credentials?)$/i;

interface ZodDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
  discriminator?: string;
  element?: z.ZodType;
  valueType?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
  values?: unknown[];
}

const defOf = (schema: z.ZodType): ZodDef => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The secret and request-target fields of a config, read from its connector's schema walked
 * alongside the value: a discriminated union follows the value's `type`, an object lists its
 * declared fields (present or not), arrays and maps their entries. Keys that look like
 * credentials are added as a fallback wherever the schema says nothing.
 */
export function configMarks(schema: z.ZodType, config: unknown): ConfigMarks {
  const marks: ConfigMarks = { secrets: [], targets: [] };
  walk(schema, config, [], config !== undefined, marks, 0);
  const known = new Set(marks.secrets.map((m) => pathKey(m.path)));
  for (const path of namedSecrets(config)) if (!known.has(pathKey(path))) marks.secrets.push({ path, present: true, by: "name" });
  return marks;
}

/** The values of a config's secret fields, to redact from everything shown. */
export function secretValues(schema: z.ZodType, config: unknown): string[] {
  const values: string[] = [];
  for (const m of configMarks(schema, config).secrets) {
    const v = m.present ? valueAt(config, m.path) : undefined;
    if (typeof v === "string" || typeof v === "number") values.push(String(v));
  }
  return values.filter((v) => v !== "");
}

/** Schemas nest a handful of levels; a deeper walk means a recursive schema, not a config. */
const MAX_SCHEMA_DEPTH = 32;

function walk(schema: z.ZodType, value: unknown, path: ConfigPath, present: boolean, marks: ConfigMarks, depth: number): void {
  if (depth > MAX_SCHEMA_DEPTH) return;
  if (hasMark(schema, "secret")) marks.secrets.push({ path, present, by: "schema" });
  if (hasMark(schema, "requestTarget")) marks.targets.push({ path, present, by: "schema" });
  const credentialNames = hasMark(schema, "credentialNames");
  const def = defOf(unwrap(schema));
  switch (def.type) {
    case "object":
      for (const [key, field] of Object.entries(def.shape ?? {})) {
        const has = isObject(value) && Object.hasOwn(value, key);
        walk(field, has ? value[key] : undefined, [...path, key], has, marks, depth + 1);
      }
      return;
    case "union": {
      const option = chooseOption(def, value);
      if (option) walk(option, value, path, present, marks, depth + 1);
      return;
    }
    case "array":
      if (Array.isArray(value) && def.element) value.forEach((item, i) => walk(def.element!, item, [...path, i], true, marks, depth + 1));
      return;
    case "record":
      if (!isObject(value) || !def.valueType) return;
      for (const [key, item] of Object.entries(value)) {
        const at = [...path, key];
        if (credentialNames && CREDENTIAL_NAME.test(key) && (typeof item === "string" || typeof item === "number")) {
          marks.secrets.push({ path: at, present: true, by: "credential-map" });
        } else walk(def.valueType, item, at, true, marks, depth + 1);
      }
      return;
    case "pipe":
      if (def.in) walk(def.in, value, path, present, marks, depth + 1);
      return;
    case "intersection":
      if (def.left) walk(def.left, value, path, present, marks, depth + 1);
      if (def.right) walk(def.right, value, path, present, marks, depth + 1);
      return;
  }
}

/** Optional, default, nullable… down to the schema that says what the value is. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < MAX_SCHEMA_DEPTH; i++) {
    const inner = defOf(s).innerType;
    if (!(inner instanceof z.ZodType)) break;
    s = inner;
  }
  return s;
}

/** The union member a value belongs to: by discriminator, by a successful parse, else by kind. */
function chooseOption(def: ZodDef, value: unknown): z.ZodType | undefined {
  const options = def.options ?? [];
  if (def.discriminator) {
    if (!isObject(value)) return undefined;
    const tag = value[def.discriminator];
    return options.find((o) => {
      const field = defOf(unwrap(o)).shape?.[def.discriminator!];
      return field !== undefined && (defOf(unwrap(field)).values ?? []).includes(tag);
    });
  }
  return (
    options.find((o) => o.safeParse(value).success) ??
    options.find((o) => {
      const type = defOf(unwrap(o)).type;
      return (type === "object" && isObject(value)) || (type === "array" && Array.isArray(value));
    })
  );
}

/**
 * Keys named like credentials holding a scalar, anywhere in the config down to
 * MAX_CONFIG_DEPTH (iterative: a config stored before that limit existed may be deeper).
 */
function namedSecrets(config: unknown): ConfigPath[] {
  const found: ConfigPath[] = [];
  const stack: { value: unknown; path: ConfigPath }[] = [{ value: config, path: [] }];
  while (stack.length) {
    const { value, path } = stack.pop()!;
    if (path.length > MAX_CONFIG_DEPTH) continue;
    if (Array.isArray(value)) value.forEach((v, i) => stack.push({ value: v, path: [...path, i] }));
    else if (isObject(value)) {
      for (const [key, v] of Object.entries(value)) {
        if (SECRET_NAME.test(key) && (typeof v === "string" || typeof v === "number")) found.push([...path, key]);
        else if (typeof v === "object" && v !== null) stack.push({ value: v, path: [...path, key] });
      }
    }
  }
  return found;
}

/** The value at a path, or undefined. */
export function valueAt(value: unknown, path: ConfigPath): unknown {
  let v = value;
  for (const key of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

/** `auth.token`, `entities[0].headers.Cookie`: a path as people read it. */
export function pathKey(path: ConfigPath): string {
  return path.reduce<string>((out, key) => (typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${key}` : key), "");
}
