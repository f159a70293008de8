// One process of the limiter benchmark: acquires slots of one key in a loop until a deadline,
// through the RateLimiter front with the PostgreSQL-backed slot source (`shared`) or the
// in-process token bucket (`local`). Started together with others by bench/limiterBench.ts.
// Usage: limiterCase.ts MODE DATABASE_URL KEY RATE BURST START_AT_MS SECONDS
// Prints one JSON line: { slots, seconds, overheadsMs } (overheads only when RATE ≤ 1000).
import { PostgresRateLimits } from "../api/src/cluster/PostgresRateLimits";
import { RateLimiter } from "../api/src/connectors/base/http/RateLimiter";

const [mode, url, key, rateText, burstText, startText, secondsText] = process.argv.slice(2);
const rate = Number(rateText);
const backend = mode === "shared" ? new PostgresRateLimits(url) : undefined;
const limiter = new RateLimiter({ requestsPerSecond: rate, burst: Number(burstText), maxConcurrentRequests: 1, minSpacingMs: 0 }, backend?.slotSource(key));
// Connects and creates the table before the clock starts.
(await limiter.acquire()).release();

await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startText) - Date.now())));
const keep = rate <= 1000;
const overheadsMs: number[] = [];
const deadline = performance.now() + Number(secondsText) * 1000;
const t0 = performance.now();
let slots = 0;
while (performance.now() < deadline) {
  const start = performance.now();
  const permit = await limiter.acquire();
  // Time to get the slot beyond the wait it was scheduled for: the reservation's round trip
  // and the timer's lateness.
  if (keep) overheadsMs.push(performance.now() - start - permit.waitedMs);
  permit.release();
  slots++;
}
const seconds = (performance.now() - t0) / 1000;
await backend?.close();
process.stdout.write(`${JSON.stringify({ slots, seconds, overheadsMs })}\n`);
