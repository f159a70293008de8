import { createPrivateKey } from "node:crypto";
import { z } from "zod";
import { fields, optionalText, requiredText } from "../base/declarative/configIssues";
import { entityName, refuseSameNames } from "../base/declarative/entityNames";
import { secret } from "../base/secret";

export const DEFAULT_API_URL = "https://bigquery.googleapis.com/bigquery/v2";
const DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token";

/** Longest key file or query accepted: a key file is ~2.4 KB, a query a few KB. */
const MAX_KEY_CHARS = 16_384;
const MAX_QUERY_CHARS = 100_000;

/** The fields of a Google service account key file that Mako uses. */
export interface ServiceAccountKey {
  project_id: string;
  private_key_id?: string;
  private_key: string;
  client_email: string;
  token_uri: string;
}

/**
 * Plain http only to this machine: the token endpoint receives a signed assertion and the API
 * an access token, neither of which may cross a network in clear.
 */
function secureUrl(value: string): boolean {
  try {
    const url = new URL(value);
    if (url.protocol === "https:") return true;
    return url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  } catch {
    return false;
  }
}
const SECURE_URL_MESSAGE = "must be an https URL (plain http only to 127.0.0.1 or localhost)";

// Project ids: 6–30 lower-case letters, digits and hyphens, starting with a letter; older ones
// may be scoped by a domain ("example.com:analytics"). They end up inside quoted SQL names.
const PROJECT_ID = /^(?:[a-z0-9][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const projectId = () => requiredText().regex(PROJECT_ID, "must be a Google Cloud project id (lower-case letters, digits and hyphens)");

// The key file is Google's format: the fields Mako uses are checked, the others (client_id,
// auth_uri, universe_domain, …) are Google's to add to and are passed over.
const keyFileSchema = z.looseObject({
  type: z.literal("service_account", { error: 'type must be "service_account" (a service account key file, not an OAuth client)' }),
  project_id: projectId(),
  private_key_id: optionalText(),
  private_key: requiredText(),
  client_email: requiredText(),
  token_uri: z.string().refine(secureUrl, SECURE_URL_MESSAGE).default(DEFAULT_TOKEN_URI),
});

/** The key file as text (pasted) or as an object (a YAML/JSON config), checked down to its PEM key. */
const serviceAccountJson = secret(
  z.union([z.string().max(MAX_KEY_CHARS, `must be at most ${MAX_KEY_CHARS} characters`), z.record(z.string(), z.unknown())], {
    error: (issue) => (issue.input === undefined ? "required" : "must be the JSON key file's text or object"),
  }),
  "The service account's JSON key file (IAM → Service accounts → Keys → Add key → JSON), its text or object. Needs roles BigQuery Job User on the project and BigQuery Data Viewer on the data.",
).transform((input, ctx): ServiceAccountKey => {
  let value: unknown = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch {
      ctx.addIssue({ code: "custom", message: "is not valid JSON (paste the whole key file)" });
      return z.NEVER;
    }
  }
  const parsed = keyFileSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    ctx.addIssue({ code: "custom", message: `${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}` });
    return z.NEVER;
  }
  try {
    createPrivateKey(parsed.data.private_key);
  } catch {
    ctx.addIssue({ code: "custom", message: "private_key: not a PEM private key" });
    return z.NEVER;
  }
  const { project_id, private_key_id, private_key, client_email, token_uri } = parsed.data;
  return { project_id, private_key_id, private_key, client_email, token_uri };
});

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A table in `[project.]dataset.table`: project ids are lower-case letters, digits and hyphens
// (optionally "domain:"-scoped), datasets letters, digits and underscores, tables also hyphens.
const TABLE_REF = /^(?:(?:[a-z0-9][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]\.)?[A-Za-z0-9_]{1,1024}\.[A-Za-z0-9_-]{1,1024}$/;

const columnName = (what: string) => requiredText().regex(IDENTIFIER, `must be a ${what} column name (letters, digits, _)`);

const entitySchema = fields({
  /** The table the entity lands in. */
  name: entityName(),
  table: optionalText()
    .refine((v) => v === undefined || TABLE_REF.test(v), "must be dataset.table or project.dataset.table")
    .describe("A table or view, read whole the first time (tabledata.list for tables) and by cursor_field after"),
  query: z
    .string({ error: "must be a string" })
    .max(MAX_QUERY_CHARS, `must be at most ${MAX_QUERY_CHARS} characters`)
    // A trailing ";" would end the statement the incremental filter wraps.
    .transform((q) => q.trim().replace(/;\s*$/, "").trim())
    .refine((q) => q !== "", "must not be empty")
    .optional()
    .describe("A GoogleSQL SELECT; with cursor_field it is wrapped as SELECT * FROM (query) WHERE cursor_field >= @since"),
  cursor_field: columnName("top-level").optional().describe("Column whose highest synced value the next sync reads from (TIMESTAMP, DATE, DATETIME, INT64, FLOAT64 or STRING)"),
  primary_key: z
    .union([columnName("top-level"), z.array(columnName("top-level")).min(1)], { error: "must be a column name or a list of them" })
    .default("id"),
});

export type BigQueryEntity = z.infer<typeof entitySchema>;

export const bigqueryConfigSchema = fields({
  service_account_json: serviceAccountJson,
  project_id: projectId().optional().describe("Project the query jobs run in (and of tables named dataset.table); default: the key's project_id"),
  location: optionalText().refine((v) => v === undefined || /^[A-Za-z0-9-]{2,64}$/.test(v), "must be a BigQuery location such as US, EU or europe-west1").describe("Where jobs run, e.g. US, EU, europe-west1; default: BigQuery picks it from the tables read"),
  base_url: z.string().refine(secureUrl, SECURE_URL_MESSAGE).optional().describe(`BigQuery REST base URL; default ${DEFAULT_API_URL}`),
  entities: z
    .array(entitySchema, { error: (i) => (i.input === undefined ? "required" : "must be a list") })
    .min(1, "must list at least one entity")
    .max(500, "at most 500 entities"),
}).superRefine((config, ctx) => {
  refuseSameNames(config.entities, ctx);
  config.entities.forEach((entity, i) => {
    if ((entity.table === undefined) === (entity.query === undefined)) {
      ctx.addIssue({ code: "custom", path: ["entities", i], message: "give either table or query (one of them)" });
    }
    if (entity.query !== undefined && /@since\b/i.test(entity.query)) {
      ctx.addIssue({ code: "custom", path: ["entities", i, "query"], message: "must not use @since: with cursor_field the connector adds the filter itself" });
    }
  });
});

export type BigQueryConfig = z.infer<typeof bigqueryConfigSchema>;
export type BigQueryConfigInput = z.input<typeof bigqueryConfigSchema>;
