import type mysql from "mysql2/promise";
import type { Dialect } from "../dialect";
import { type ServerLimits, mysqlCatalog } from "./catalog";
import { mysqlDdl } from "./ddl";
import { MysqlDriver } from "./driver";
import { mysqlIntrospect } from "./introspect";
import { mysqlNaming } from "./naming";
import { type MysqlWriter, mysqlRows } from "./rows";
import { mysqlState } from "./state";
import { mysqlSwap } from "./swap";
import { mysqlShape } from "./types";

/**
 * MySQL/MariaDB: chunks on several connections at once; DDL commits on its own, so schema
 * changes run first under a named lock, and a full refresh's swap is a marked RENAME TABLE.
 */
export function mysqlDialect(pool: mysql.Pool, options: { connections: number; limits: ServerLimits }): Dialect<mysql.PoolConnection, MysqlWriter> {
  return {
    kind: "mysql",
    writeConcurrency: options.connections,
    schemaChanges: "locked",
    driver: new MysqlDriver(pool),
    naming: mysqlNaming,
    shape: mysqlShape,
    catalog: mysqlCatalog,
    state: mysqlState,
    ddl: mysqlDdl,
    swap: mysqlSwap,
    rows: mysqlRows(options.limits),
    introspect: mysqlIntrospect,
  };
}
