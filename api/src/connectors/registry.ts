import type { BaseConnector } from "./base/BaseConnector";
import type { DataSource } from "./base/types";
import { BigQueryConnector } from "./bigquery";
import { CloseConnector } from "./close";
import { GraphqlConnector } from "./graphql";
import { PostHogConnector } from "./posthog";
import { RestConnector } from "./rest";
import { SampleConnector } from "./sample";
import { StripeConnector } from "./stripe";

/** A connector class: what the registry maps an id to. */
export type SourceConnector = new (dataSource: DataSource<any>) => BaseConnector;

/** The one list of connectors: "source-id": ConnectorClass. */
export const connectorRegistry: Record<string, SourceConnector> = {
  sample: SampleConnector,
  stripe: StripeConnector,
  close: CloseConnector,
  posthog: PostHogConnector,
  rest: RestConnector,
  graphql: GraphqlConnector,
  bigquery: BigQueryConnector,
};
