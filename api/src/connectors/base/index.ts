export * from "./BaseConnector";
export { secret, isSecretSchema } from "./secret";
