export { GraphqlConnector } from "./connector";
export { graphqlConfigSchema, validateGraphqlConfig, parseConnectorConfigText } from "./config";
export type { GraphqlConfig, GraphqlConfigInput, GraphqlEntityConfig, PaginationConfig } from "./config";
