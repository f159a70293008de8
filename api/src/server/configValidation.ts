import type { z } from "zod";
import type { BaseConnector } from "../connectors/base/BaseConnector";
import { MAX_CONFIG_DEPTH, deeperThan, pathPastDepth } from "../connectors/base/nesting";
import { validateConfig } from "../connectors/base/validateConfig";
import { connectorRegistry } from "../connectors/registry";
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

/**
 * Checks a config against the connector's zod schema (the one the CLI and the engine use);
 * a failure is a 400 whose `field` is the path in the request body, e.g. `config.count`.
 */
export function checkConfig(connectorId: string, config: unknown): Record<string, unknown> {
  if (deeperThan(config, MAX_CONFIG_DEPTH)) {
    const at = pathPastDepth(config, MAX_CONFIG_DEPTH);
    throw new ApiError(400, `invalid config: ${at}: nests deeper than ${MAX_CONFIG_DEPTH} levels`, `config.${at}`);
  }
  const result = validateConfig(configSchemaOf(connectorId), config ?? {});
  if (!result.ok) {
    throw new ApiError(400, `invalid config: ${result.errors.join("; ")}`, result.field ? `config.${result.field}` : "config");
  }
  return result.config as Record<string, unknown>;
}
