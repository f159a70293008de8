import { PostgresDestination } from "../../src/destinations/postgres/PostgresDestination";
import { describeServerDestination } from "./serverDestinationSuite";

const url = process.env.MAKO_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

describeServerDestination({ kind: "postgres", label: "COPY + merge", url, open: () => PostgresDestination.open(url, { bulk: "copy" }), nul: "replaced" });
describeServerDestination({
  kind: "postgres",
  label: "multi-row upsert",
  url,
  open: () => PostgresDestination.open(url, { bulk: "multirow" }),
  nul: "replaced",
});
