// The fields asked of Close's Advanced Filtering API per object type: it answers only `id`
// unless `_fields` names what to return (developer.close.com/api/resources/advanced-filtering).
// Names as the objects' pages document them (/api/resources/leads, /contacts, /activities/…);
// custom field values are added as `custom.FIELD_ID` from the custom field endpoints.

const ACTIVITY = ["id", "_type", "lead_id", "contact_id", "user_id", "user_name", "organization_id", "created_by", "updated_by", "date_created", "date_updated", "activity_at"];

export const SEARCH_FIELDS: Record<string, readonly string[]> = {
  lead: ["id", "display_name", "name", "description", "url", "html_url", "status_id", "status_label", "addresses", "integration_links", "organization_id", "created_by", "updated_by", "date_created", "date_updated"],
  contact: ["id", "lead_id", "name", "display_name", "title", "emails", "phones", "urls", "integration_links", "organization_id", "created_by", "updated_by", "date_created", "date_updated"],
  "activity.call": [...ACTIVITY, "direction", "status", "duration", "phone", "local_phone", "remote_phone", "disposition", "note", "recording_url", "voicemail_url", "source", "cost"],
  "activity.email": [...ACTIVITY, "direction", "status", "subject", "body_text", "body_html", "sender", "to", "cc", "bcc", "thread_id", "date_sent", "attachments", "template_id", "sequence_id"],
  "activity.note": [...ACTIVITY, "note", "note_html"],
  "activity.meeting": [...ACTIVITY, "title", "status", "starts_at", "ends_at", "duration", "location", "attendees", "note", "source"],
  "activity.sms": [...ACTIVITY, "direction", "status", "text", "local_phone", "remote_phone", "date_sent", "attachments", "template_id"],
};
