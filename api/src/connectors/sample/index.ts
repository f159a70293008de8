export { SampleConnector, sampleConfigSchema } from "./connector";
export type { SampleConfig } from "./connector";
