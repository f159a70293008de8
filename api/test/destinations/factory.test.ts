import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type DestinationKind, destinationKinds, openDestination } from "../../src/destinations/factory";

const dir = mkdtempSync(join(tmpdir(), "mako-factory-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("openDestination", () => {
  it("opens each kind from its URL, and the destination answers test()", async () => {
    const urls: Record<DestinationKind, string> = {
      sqlite: join(dir, "a.db"),
      duckdb: join(dir, "a.duckdb"),
      postgres: "postgres://postgres@127.0.0.1:5432/test",
      mysql: "mysql://root@127.0.0.1:3306/test",
    };
    for (const kind of destinationKinds) {
      const destination = await openDestination({ kind, url: urls[kind] });
      expect(destination.kind).toBe(kind);
      await destination.test();
      await destination.close();
    }
  });

  it("names the unknown type and the unreachable server in one-line errors", async () => {
    await expect(openDestination({ kind: "oracle" as DestinationKind, url: "x" })).rejects.toThrow(
      /unknown destination type "oracle"; expected one of sqlite, postgres, mysql, duckdb/,
    );
    await expect(openDestination({ kind: "postgres", url: "postgres://postgres:secret@127.0.0.1:1/test" })).rejects.toThrow(
      /^cannot open PostgreSQL destination postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test: /,
    );
    await expect(openDestination({ kind: "mysql", url: "mysql://root@127.0.0.1:3306" })).rejects.toThrow(/names no database/);
  });
});
