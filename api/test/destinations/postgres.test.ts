import { PostgresDestination } from "../../src/destinations/postgres/PostgresDestination";
import { describeServerDestination } from "./serverDestinationSuite";

const url = process.env.MAKO_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

describeServerDestination({ kind: "postgres", url, open: () => PostgresDestination.open(url), nul: "replaced" });
