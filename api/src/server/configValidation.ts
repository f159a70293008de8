import type { z } from "zod";
import type { BaseConnector } from "../connectors/base/BaseConnector";
import { validateConfig } from "../connectors/base/validateConfig";
import { connectorRegistry } from "../connectors/registry";
import { secretFieldNames } from "../store/redact";
import { ApiError } from "./httpErrors";

/** A connector instance for reading its schema only (a constructor may reject an empty config). */
function describeConnector(id: string): BaseConnector {
  const Connector = connectorRegistry[id];
  if (!Connector) {
    throw new ApiError(400, `unknown connector "${id}"; available: ${Object.keys(connectorRegistry).join(", ")}`, "connector");
  }
  const dataSource = { name: id, connector: id, config: {}, settings: {} };
  try {
    return new Connector(dataSource);
  } catch {
    return Object.assign(Object.create(Connector.prototype), { dataSource }) as BaseConnector;
  }
}

export function configSchemaOf(connectorId: string): z.ZodType {
  return describeConnector(connectorId).getConfigSchema();
}

export function secretFieldsOf(connectorId: string): Set<string> {
  return secretFieldNames(configSchemaOf(connectorId));
}

/**
 * Checks a config against the connector's zod schema (the one the CLI and the engine use);
 * a failure is a 400 whose `field` is the path in the request body, e.g. `config.count`.
 */
export function checkConfig(connectorId: string, config: unknown): Record<string, unknown> {
  const result = validateConfig(configSchemaOf(connectorId), config ?? {});
  if (!result.ok) {
    throw new ApiError(400, `invalid config: ${result.errors.join("; ")}`, result.field ? `config.${result.field}` : "config");
  }
  return result.config as Record<string, unknown>;
}
