export { BigQueryConnector } from "./connector";
export { bigqueryConfigSchema } from "./config";
export type { BigQueryConfig, BigQueryConfigInput, BigQueryEntity } from "./config";
