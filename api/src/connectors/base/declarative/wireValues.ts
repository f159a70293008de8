import { z } from "zod";
import { CREDENTIAL_NAME } from "../http/SecretRedactor";
import { credentialMap, secret } from "../secret";
import { fields, requiredText } from "./configIssues";

/** A header or query parameter value the config marks secret: `X-Auth: { secret: "…" }`. */
const secretValueSchema = fields({ secret: secret(requiredText(), "A value kept secret: encrypted at rest, never shown or logged") });

export type WireValue = string | number | boolean | { secret: string };

/**
 * Header or query parameter values by name. A value written `{ secret: "…" }` is secret, and
 * so is any whose name looks like a credential (`Cookie`, `X-Auth`, `key`, `access_key`…):
 * encrypted at rest, never shown, redacted from logs, kept out of checkpoints.
 */
export function wireValues() {
  return credentialMap(
    z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), secretValueSchema]), {
      error: (issue) => (issue.input === undefined ? "required" : 'must be an object of names to values (a secret one as { secret: "…" })'),
    }),
  );
}

const isSecretEntry = (name: string, value: WireValue) => typeof value === "object" || CREDENTIAL_NAME.test(name);
const plain = (value: WireValue) => (typeof value === "object" ? value.secret : String(value));

/** Every value as the string sent on the wire. */
export function wireStrings(values: Record<string, WireValue> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(values ?? {}).map(([k, v]) => [k, plain(v)]));
}

/** Only the secret values, as sent on the wire. */
export function secretWireStrings(values: Record<string, WireValue> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(values ?? {}).filter(([k, v]) => isSecretEntry(k, v)).map(([k, v]) => [k, plain(v)]));
}

/** Only the values that are not secret. */
export function publicWireStrings(values: Record<string, WireValue> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(values ?? {}).filter(([k, v]) => !isSecretEntry(k, v)).map(([k, v]) => [k, plain(v)]));
}
