import { z } from "zod";
import { authSchema } from "../base/declarative/auth";
import {
  fields,
  oneOf,
  optionalText,
  positiveInt,
  rateLimitSchema,
  requiredText,
  typed,
  urlText,
} from "../base/declarative/configIssues";
import { entityName, refuseSameNames } from "../base/declarative/entityNames";
import { wireValues } from "../base/declarative/wireValues";
import { requestTarget } from "../base/secret";
import { type ConfigValidation, validateConfig } from "../base/validateConfig";
import { sinceFormatSchema } from "../base/declarative/since";

export { parseConnectorConfigText } from "../base/declarative/configText";

const stop = {
  /** Stop when the value at this path is false (e.g. `has_more`, `meta.has_next`). */
  has_more_path: optionalText(),
};
const sized = {
  /** Query parameter that carries the page size; the size is `page_size` or the engine's batch size. */
  size_param: optionalText(),
  page_size: positiveInt().optional(),
};

const paginatorTypes = ["none", "page_number", "offset", "cursor", "next_url", "link_header"] as const;

export const paginatorSchema = typed(paginatorTypes, [
  fields({ type: z.literal("none") }),
  fields({
    type: z.literal("page_number"),
    param: requiredText().default("page"),
    start: z.number().int().default(1),
    ...sized,
    ...stop,
    /** Total number of records, when the body tells. */
    total_path: optionalText(),
    /** Total number of pages, when the body tells. */
    total_pages_path: optionalText(),
    /** Response header holding the total number of records (e.g. `X-Total-Count`). */
    total_header: optionalText(),
  }),
  fields({
    type: z.literal("offset"),
    offset_param: requiredText().default("offset"),
    limit_param: requiredText().default("limit"),
    page_size: positiveInt().optional(),
    ...stop,
    total_path: optionalText(),
    /** Response header holding the total number of records (e.g. `X-Total-Count`). */
    total_header: optionalText(),
  }),
  fields({
    type: z.literal("cursor"),
    /** Where the next cursor is in the body; a missing or empty value ends the entity. */
    cursor_path: requiredText(),
    cursor_param: requiredText().default("cursor"),
    ...sized,
    ...stop,
  }),
  fields({ type: z.literal("next_url"), next_url_path: requiredText(), ...sized, ...stop }),
  fields({ type: z.literal("link_header"), ...sized, ...stop }),
]);

export type PaginatorConfig = z.infer<typeof paginatorSchema>;

const incrementalSchema = fields({
  /** The record field whose highest synced value is the next run's mark. */
  cursor_field: requiredText(),
  /** Query parameter that receives the mark, e.g. `updated_since`. */
  param: requiredText(),
  format: sinceFormatSchema(),
  /** Mark of the very first run (otherwise the first run reads everything). */
  start: optionalText(),
});

const entitySchema = fields({
  name: entityName(),
  /** Relative to base_url; `{field}` is filled from each record of `parent`. Default `/<name>`. */
  path: optionalText(),
  method: oneOf(["GET", "POST"]).default("GET"),
  params: wireValues().optional(),
  headers: wireValues().optional(),
  /** JSON body for POST. */
  body: z.unknown().optional(),
  /** Dotted path to the records; default: the body when it is an array, else its only array field. */
  records_path: optionalText(),
  primary_key: z.union([requiredText(), z.array(requiredText()).min(1)], { error: "must be a field name or a list of them" }).default("id"),
  paginator: paginatorSchema.optional(),
  /** Another entity whose records fill this entity's `{placeholders}`. */
  parent: optionalText(),
  incremental: incrementalSchema.optional(),
});

export type RestEntityConfig = z.infer<typeof entitySchema>;

const placeholderPattern = /\{([^{}]+)\}/g;

/** The `{field}` names in an entity path. */
export function placeholdersOf(path: string): string[] {
  return [...path.matchAll(placeholderPattern)].map((m) => m[1]);
}

export const restConfigSchema = fields({
  base_url: requestTarget(urlText()),
  auth: authSchema.default({ type: "none" }),
  headers: wireValues().optional(),
  /** Query parameters sent with every request. */
  params: wireValues().optional(),
  /** Default for entities that name none. */
  paginator: paginatorSchema.optional(),
  records_path: optionalText(),
  rate_limit: rateLimitSchema.optional(),
  entities: z.array(entitySchema, { error: (i) => (i.input === undefined ? "required" : "must be a list") }).min(1, "must list at least one entity"),
}).superRefine((config, ctx) => {
  refuseSameNames(config.entities, ctx);
  const names = new Map<string, number>();
  config.entities.forEach((entity, i) => {
    if (!names.has(entity.name)) names.set(entity.name, i);
  });
  const origin = originOf(config.base_url);
  config.entities.forEach((entity, i) => {
    // The API's credentials go wherever a path leads: it stays on base_url's server.
    if (entity.path !== undefined && /^[a-z][a-z0-9+.-]*:/i.test(entity.path) && originOf(entity.path) !== origin) {
      ctx.addIssue({ code: "custom", path: ["entities", i, "path"], message: "must be a path under base_url (an absolute URL must be on base_url's server)" });
    }
    const holes = placeholdersOf(entity.path ?? "");
    if (entity.parent !== undefined) {
      const parentIndex = names.get(entity.parent);
      if (parentIndex === undefined) {
        ctx.addIssue({ code: "custom", path: ["entities", i, "parent"], message: `no entity named "${entity.parent}"` });
      } else if (dependsOn(config.entities, entity.parent, entity.name)) {
        ctx.addIssue({ code: "custom", path: ["entities", i, "parent"], message: `"${entity.parent}" leads back to "${entity.name}" (a cycle)` });
      }
      if (holes.length === 0) {
        ctx.addIssue({ code: "custom", path: ["entities", i, "path"], message: "has a parent but no {field} placeholder to fill from it" });
      }
    } else if (holes.length > 0) {
      ctx.addIssue({ code: "custom", path: ["entities", i, "parent"], message: `required: path has {${holes[0]}}` });
    }
  });
});

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** True when following `parent` links from `start` reaches `target`. */
function dependsOn(entities: RestEntityConfig[], start: string, target: string): boolean {
  const seen = new Set<string>();
  let current: string | undefined = start;
  while (current !== undefined && !seen.has(current)) {
    if (current === target) return true;
    seen.add(current);
    current = entities.find((e) => e.name === current)?.parent;
  }
  return false;
}

export type RestConfig = z.infer<typeof restConfigSchema>;
export type RestConfigInput = z.input<typeof restConfigSchema>;

/** Validates a whole REST config; errors name the exact path, e.g. `entities[2].paginator.cursor_path: required`. */
export function validateRestConfig(input: unknown): ConfigValidation<RestConfig> {
  return validateConfig(restConfigSchema, input);
}
