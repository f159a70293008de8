// What a connector gives to receive its vendor's webhooks. The SDK side only: checking a
// delivery's signature and saying which row an event changes. Storing events and applying them
// to tables is the engine's job (nothing here imports the store or the engine).
import { createHmac, timingSafeEqual } from "node:crypto";
import type { DataRecord } from "./types";

/** A delivery whose signature checked out, parsed. */
export interface WebhookEvent {
  /** The vendor's own id of the event: deliveries of one event share it (the inbox's key). */
  id: string;
  /** The vendor's event type, e.g. "customer.updated" or "lead.updated". */
  type: string;
  /** The parsed body. */
  payload: unknown;
}

export type WebhookVerification = { ok: true; event: WebhookEvent } | { ok: false; error: string };

/**
 * The row an event changes, in the shape the pull writes for the same object, so both paths
 * write the same columns.
 */
export interface WebhookChange {
  /** One of the connector's entities. */
  entity: string;
  /** The object's primary key value. */
  objectId: string;
  /**
   * The object as the pull would write it; a deletion is marked with `markDeleted` (it carries
   * `_mako_deleted_at`). Stored as JSON the mark is gone: whoever applies a stored event marks
   * the record again from `deleted`, never from the field.
   */
  record: DataRecord;
  /**
   * Orders writes of one object: microseconds since the Unix epoch on the vendor's clock. A
   * write replaces a row only when its version is not older (the apply side's rule).
   */
  version: number;
  deleted: boolean;
}

/** A connector that takes webhooks returns this from `webhookEvents()`. */
export interface WebhookSupport {
  /** The config field holding the signing secret (a secret field). */
  secretField: string;
  /** Whether that field has a value: without one, deliveries are refused. */
  secretSet: boolean;
  /** The vendor's event types to subscribe the endpoint to: those `toChange` maps to an entity. */
  subscribe: string[];
  /** Where and how to register the endpoint with the vendor, in a sentence or two. */
  setup: string;
  /**
   * Checks a delivery: the signature over the raw body, as the vendor documents it, within a
   * timestamp tolerance of `nowSeconds`; then parses the body. Never throws.
   */
  verify(rawBody: Uint8Array, headers: Headers, nowSeconds: number): WebhookVerification;
  /**
   * The row a verified event changes, or null when it is about nothing this connector syncs.
   * Each vendor's event is about one object, so there is at most one. Throws (one line) when
   * the event lacks what its type promises.
   */
  toChange(event: WebhookEvent): WebhookChange | null;
}

/** HMAC-SHA256 of the parts, concatenated as bytes (never re-encoded). */
export function hmacSha256(key: string | Uint8Array, ...parts: (string | Uint8Array)[]): Buffer {
  const mac = createHmac("sha256", key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** Whether a hex signature equals the expected digest, in constant time for equal lengths. */
export function hexSignatureMatches(hex: string, expected: Buffer): boolean {
  if (!/^[0-9a-f]+$/i.test(hex) || hex.length !== expected.length * 2) return false;
  return timingSafeEqual(Buffer.from(hex, "hex"), expected);
}

/** The body parsed as JSON, or an error naming the problem. */
export function parseJsonBody(rawBody: Uint8Array): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(Buffer.from(rawBody.buffer, rawBody.byteOffset, rawBody.byteLength).toString("utf8")) };
  } catch (err) {
    return { ok: false, error: `the body is not JSON (${(err as Error).message})` };
  }
}
