import { z } from "zod";
import { type ConfigValidation, validateConfig } from "../base/validateConfig";
import { authSchema } from "../base/declarative/auth";
import { fields, optionalText, positiveInt, rateLimitSchema, requiredText, typed, urlText } from "../base/declarative/configIssues";
import { entityName, refuseSameNames } from "../base/declarative/entityNames";
import { wireValues } from "../base/declarative/wireValues";
import { requestTarget } from "../base/secret";
import { sinceFormatSchema } from "../base/declarative/since";

export { parseConnectorConfigText } from "../base/declarative/configText";

const paginationTypes = ["relay", "offset", "none"] as const;

export const paginationSchema = typed(paginationTypes, [
  fields({
    type: z.literal("relay"),
    /** Variables that carry the page size and the `endCursor` of the previous page. */
    first_var: requiredText().default("first"),
    after_var: requiredText().default("after"),
    page_size: positiveInt().optional(),
  }),
  fields({
    type: z.literal("offset"),
    offset_var: requiredText().default("offset"),
    limit_var: requiredText().default("limit"),
    page_size: positiveInt().optional(),
  }),
  fields({ type: z.literal("none") }),
]);

export type PaginationConfig = z.infer<typeof paginationSchema>;

const entitySchema = fields({
  name: entityName(),
  query: requiredText(),
  variables: z.record(z.string(), z.unknown(), { error: "must be an object of variable values" }).optional(),
  /**
   * Dotted path under `data` to the records: a list, or a Relay connection (edges/nodes).
   * Default: the only field of `data`.
   */
  path: optionalText(),
  /** Default: relay when the query asks for `pageInfo`, offset when it declares `$offset`, else none. */
  pagination: paginationSchema.optional(),
  primary_key: z.union([requiredText(), z.array(requiredText()).min(1)], { error: "must be a field name or a list of them" }).default("id"),
  incremental: fields({
    cursor_field: requiredText(),
    /** The query variable that receives the mark, e.g. `since`. */
    variable: requiredText(),
    format: sinceFormatSchema(),
    start: optionalText(),
  }).optional(),
});

export type GraphqlEntityConfig = z.infer<typeof entitySchema>;

export const graphqlConfigSchema = fields({
  endpoint: requestTarget(urlText()),
  auth: authSchema.default({ type: "none" }),
  headers: wireValues().optional(),
  rate_limit: rateLimitSchema.optional(),
  entities: z.array(entitySchema, { error: (i) => (i.input === undefined ? "required" : "must be a list") }).min(1, "must list at least one entity"),
}).superRefine((config, ctx) => {
  refuseSameNames(config.entities, ctx);
  config.entities.forEach((entity, i) => {
    const declared = declaredVariables(entity.query);
    const pagination = paginationOf(entity);
    const needed = [
      ...(pagination.type === "relay" ? [["pagination", pagination.after_var]] : []),
      ...(pagination.type === "offset" ? [["pagination", pagination.offset_var]] : []),
      ...(entity.incremental ? [["incremental", entity.incremental.variable]] : []),
    ];
    for (const [field, variable] of needed) {
      if (!declared.has(variable)) {
        ctx.addIssue({ code: "custom", path: ["entities", i, field], message: `the query declares no $${variable}` });
      }
    }
  });
});

/** `$name` variables a query declares. */
export function declaredVariables(query: string): Set<string> {
  const header = /^[^{(]*\(([^)]*)\)/.exec(query)?.[1] ?? "";
  return new Set([...header.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)\s*:/g)].map((m) => m[1]));
}

/** The entity's pagination, guessed from the query when not given. */
export function paginationOf(entity: GraphqlEntityConfig): PaginationConfig {
  if (entity.pagination) return entity.pagination;
  if (/\bpageInfo\b/.test(entity.query)) return { type: "relay", first_var: "first", after_var: "after" };
  if (declaredVariables(entity.query).has("offset")) return { type: "offset", offset_var: "offset", limit_var: "limit" };
  return { type: "none" };
}

export type GraphqlConfig = z.infer<typeof graphqlConfigSchema>;
export type GraphqlConfigInput = z.input<typeof graphqlConfigSchema>;

/** Validates a whole GraphQL config; errors name the exact path of each bad field. */
export function validateGraphqlConfig(input: unknown): ConfigValidation<GraphqlConfig> {
  return validateConfig(graphqlConfigSchema, input);
}
