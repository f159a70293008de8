export { PostHogConnector, posthogConfigSchema } from "./connector";
export type { PostHogConfig } from "./connector";

/** Registry id and what the catalog shows before a source exists. */
export const posthogConnectorInfo = {
  id: "posthog",
  name: "PostHog",
  entities: ["events", "persons", "cohorts", "feature_flags", "insights"],
} as const;
