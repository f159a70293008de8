// One server destination's benchmark (bare bulk path and Mako's Destination) in its own
// process. Prints one JSON line { bare, mako } in the shape of bench/cases.ts results.
import { benchDestinations, type Measure, type ServerKind } from "./destinations";

const toCase = (m: Measure) => ({
  records: m.records,
  seconds: m.seconds,
  bytes: m.mbPerSecond * 1e6 * m.seconds,
  peakRssMb: m.peakRssMb,
  method: m.method,
});

const [kind, n] = process.argv.slice(2);
const [result] = await benchDestinations({ records: Number(n), kinds: [kind as ServerKind] });
process.stdout.write(JSON.stringify({ bare: toCase(result.bare), mako: toCase(result.mako) }) + "\n");
