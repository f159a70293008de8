export * from "./BaseConnector";
export { secret, isSecretSchema } from "./secret";
export { HttpClient, HttpError } from "./http";
export type { HttpClientOptions, HttpRequest, HttpResponse, HttpErrorKind } from "./http";
export { hmacSha256, hexSignatureMatches, parseJsonBody } from "./webhooks";
export { markDeleted, isMarkedDeleted } from "./deletions";
export { withVersion, versionOf, VERSION_FIELD } from "./version";
