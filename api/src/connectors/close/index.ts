export { CloseConnector, closeConfigSchema } from "./connector";
export type { CloseConfig } from "./connector";

/** Registry id and what the catalog shows before a source exists. */
export const closeConnectorInfo = {
  id: "close",
  name: "Close",
  entities: ["leads", "contacts", "opportunities", "activities_call", "activities_email", "activities_note", "activities_meeting", "activities_sms", "users", "custom_fields"],
} as const;
