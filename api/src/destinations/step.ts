// The write flow is written once, as generators that yield each database call. A dialect whose
// driver answers synchronously (better-sqlite3) runs a whole chunk in one call stack, so its
// transaction never spans a turn of the event loop: Mako's metadata store, which shares that
// connection, cannot slip a write into it. The other dialects' calls are awaited one by one.

export type MaybePromise<T> = T | Promise<T>;

/** A piece of the flow: yields database calls, returns its result. */
export type Step<T> = Generator<unknown, T, unknown>;

/** The result of one database call, sync or async: `const stored = yield* io(state.read(conn, ref))`. */
export function* io<T>(call: MaybePromise<T>): Step<T> {
  return (yield call) as T;
}

export function isPromise(value: unknown): value is Promise<unknown> {
  return typeof (value as Promise<unknown> | null)?.then === "function";
}

/** Runs a step whose every call answers at once; a promise is a dialect's bug, thrown into the step (so it rolls back). */
export function runSync<T>(step: Step<T>): T {
  let next = step.next();
  while (!next.done) {
    next = isPromise(next.value)
      ? step.throw(new Error("a synchronous destination driver returned a promise"))
      : step.next(next.value);
  }
  return next.value;
}

/** Runs a step awaiting each call; a failed call is thrown into the step where it was made. */
export async function runAsync<T>(step: Step<T>): Promise<T> {
  let next = step.next();
  while (!next.done) {
    let failed = false;
    let settled: unknown;
    try {
      settled = await next.value;
    } catch (err) {
      failed = true;
      settled = err;
    }
    next = failed ? step.throw(settled) : step.next(settled);
  }
  return next.value;
}
