import { z } from "zod";

/** A key the schema does not know, at `path` (the object holding it), with the keys it does know. */
export interface UnknownKeys {
  path: PropertyKey[];
  keys: string[];
  known: string[];
}

type Def = {
  type: string;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  getter?: () => z.core.$ZodType;
  shape?: Record<string, z.core.$ZodType>;
  catchall?: z.core.$ZodType;
  element?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
  items?: z.core.$ZodType[];
  rest?: z.core.$ZodType | null;
  options?: z.core.$ZodType[];
  discriminator?: string;
};

const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "catch", "readonly", "nonoptional", "success"]);
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Every key of `input` that `schema` has no place for. zod's plain objects drop such keys
 * without a word, so a misspelt optional field (`cout` for `count`) would leave the default in
 * place: the SDK refuses them for every connector, whatever kind of object its schema uses.
 * Records and objects with a catch-all (`z.looseObject`, `.catchall()`) take any key.
 */
export function findUnknownKeys(schema: z.core.$ZodType, input: unknown): UnknownKeys[] {
  const found: UnknownKeys[] = [];
  walk(schema, input, [], found, 0);
  return found;
}

function walk(schema: z.core.$ZodType, input: unknown, path: PropertyKey[], found: UnknownKeys[], depth: number): void {
  if (depth > 64 || input === undefined || input === null) return;
  const def = schema._zod.def as unknown as Def;
  if (WRAPPERS.has(def.type) && def.innerType) return walk(def.innerType, input, path, found, depth + 1);
  switch (def.type) {
    case "pipe":
      return def.in ? walk(def.in, input, path, found, depth + 1) : undefined;
    case "lazy":
      return def.getter ? walk(def.getter(), input, path, found, depth + 1) : undefined;
    case "object": {
      if (!isPlainObject(input) || !def.shape) return;
      const shape = def.shape;
      const open = def.catchall && def.catchall._zod.def.type !== "never" ? def.catchall : undefined;
      const unknown: string[] = [];
      for (const [key, value] of Object.entries(input)) {
        if (Object.hasOwn(shape, key)) walk(shape[key], value, [...path, key], found, depth + 1);
        else if (open) walk(open, value, [...path, key], found, depth + 1);
        else unknown.push(key);
      }
      if (unknown.length) found.push({ path, keys: unknown, known: Object.keys(shape) });
      return;
    }
    case "array":
      if (Array.isArray(input) && def.element) input.forEach((v, i) => walk(def.element!, v, [...path, i], found, depth + 1));
      return;
    case "tuple":
      if (Array.isArray(input)) input.forEach((v, i) => {
        const item = def.items?.[i] ?? def.rest ?? undefined;
        if (item) walk(item, v, [...path, i], found, depth + 1);
      });
      return;
    case "record":
      if (isPlainObject(input) && def.valueType) for (const [k, v] of Object.entries(input)) walk(def.valueType, v, [...path, k], found, depth + 1);
      return;
    case "union": {
      const option = unionOption(def, input);
      if (option) walk(option, input, path, found, depth + 1);
      return;
    }
  }
}

/** The union member `input` is meant for: by its discriminator, else the first that accepts it. */
function unionOption(def: Def, input: unknown): z.core.$ZodType | undefined {
  const options = def.options ?? [];
  if (def.discriminator !== undefined) {
    if (!isPlainObject(input)) return undefined;
    const tag = input[def.discriminator];
    return options.find((o) => (o._zod.propValues?.[def.discriminator!] as Set<unknown> | undefined)?.has(tag as never));
  }
  return options.find((o) => z.safeParse(o, input).success);
}
