import { MysqlDestination } from "../../src/destinations/mysql/MysqlDestination";
import { describeServerDestination } from "./serverDestinationSuite";

const url = process.env.MAKO_TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

describeServerDestination({ kind: "mysql", url, open: () => MysqlDestination.open(url), nul: "kept" });
