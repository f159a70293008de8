import type { Driver } from "./dialect";
import { type Step, io } from "./step";

/** Runs `body` in a transaction: committed when it returns, rolled back when it (or the commit) throws. */
export function* transaction<C, T>(driver: Driver<C>, conn: C, body: () => Step<T>): Step<T> {
  yield* io(driver.begin(conn));
  try {
    const result = yield* body();
    yield* io(driver.commit(conn));
    return result;
  } catch (err) {
    yield* io(driver.rollback(conn));
    throw err;
  }
}

/**
 * Runs `body` in a schema section of the namespace (see Driver.beginSchema). Inside a chunk's
 * transaction of a dialect whose schema changes belong there, the body simply joins it.
 */
export function* schemaSection<C, T>(driver: Driver<C>, conn: C, namespace: string, joinTransaction: boolean, body: () => Step<T>): Step<T> {
  if (joinTransaction) return yield* body();
  yield* io(driver.beginSchema(conn, namespace));
  try {
    const result = yield* body();
    yield* io(driver.endSchema(conn, namespace, true));
    return result;
  } catch (err) {
    yield* io(driver.endSchema(conn, namespace, false));
    throw err;
  }
}
