import { describe, expect, it } from "vitest";
import { MysqlDestination } from "../../src/destinations/mysql/MysqlDestination";
import { checkpoint, describeServerDestination } from "./serverDestinationSuite";

const url = process.env.MAKO_TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test";

describeServerDestination({ kind: "mysql", url, open: () => MysqlDestination.open(url), nul: "kept" });

describe("mysql destination: tables it did not create", () => {
  it("replaces an empty leftover table, and refuses to write into someone else's table with rows", async () => {
    const d = await MysqlDestination.open(url);
    const namespace = `leftover_${process.pid}`;
    try {
      await d.pool.query("DROP TABLE IF EXISTS ??, ??", [`${namespace}__empty`, `${namespace}__theirs`]);
      await d.pool.query("CREATE TABLE ?? (x INT)", [`${namespace}__empty`]);
      await d.pool.query("CREATE TABLE ?? (x INT)", [`${namespace}__theirs`]);
      await d.pool.query("INSERT INTO ?? VALUES (1)", [`${namespace}__theirs`]);
      const write = (entity: string) =>
        d.writeChunk({ table: { namespace, entity }, primaryKey: ["id"], records: [{ id: 1, v: "a" }], checkpoint: checkpoint(1, 1), syncedAt: new Date().toISOString() });
      await write("empty");
      expect(await d.readRows({ namespace, entity: "empty" }, { limit: 5, offset: 0 })).toMatchObject([{ id: 1, v: "a" }]);
      await expect(write("theirs")).rejects.toThrow(/exists and was not created by Mako/);
    } finally {
      await d.pool.query("DROP TABLE IF EXISTS ??", [`${namespace}__theirs`]);
      await d.dropNamespace(namespace);
      await d.close();
    }
  });
});
