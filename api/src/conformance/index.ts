export { checkConnector } from "./checkConnector";
export type { ConformanceCheck, ConformanceOptions, ConformanceReport } from "./checkConnector";
