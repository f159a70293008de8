export { RestConnector } from "./connector";
export { restConfigSchema, validateRestConfig, parseConnectorConfigText } from "./config";
export type { RestConfig, RestConfigInput, RestEntityConfig, PaginatorConfig } from "./config";
