import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckdbDestination } from "../../src/destinations/duckdb/DuckdbDestination";
import { describeServerDestination } from "./serverDestinationSuite";

const url = join(mkdtempSync(join(tmpdir(), "mako-duckdb-test-")), "warehouse.duckdb");

describeServerDestination({ kind: "duckdb", url, open: () => DuckdbDestination.open(url), nul: "kept", singleProcess: true });
