// The shared rate limit as SQL: GCRA (the generic cell rate algorithm) kept as a reservation,
// one statement per slot, on the database clock.
//
// Per key: `tat`, the theoretical arrival time; `paused_until`, a stop the server imposed;
// `factor`, the share of the pace kept after 429s. With the emission interval T = 1/rate
// (divided by the factor) and the burst tolerance τ = (burst − 1)·T, a slot asked for at
// `now` starts at  max(now, tat − τ, paused_until)  and moves tat to
// max(tat, paused_until + τ, now) + T. `paused_until + τ` restarts the bucket empty when a
// pause ends: one slot at paused_until, the next T later, no burst. A new key starts empty the
// same way (its first slot now, the next T later), as does a key the server lost: the table is
// UNLOGGED, so a crash truncates it, which is the only state worth having after one.
//
// Processes sleep the wait the statement returns, relative to the database's clock, so their
// own clocks never matter. `now` is read once per statement (`c.now`): a statement waiting on
// the row lock computes from a slightly older now, which only makes its slot later.
import { METADATA_SCHEMA } from "../store/PostgresStore";

export const RATE_LIMITS_TABLE = `${METADATA_SCHEMA}.rate_limits`;
/** LISTEN/NOTIFY channel on which a pause reaches every process at once. */
export const PAUSE_CHANNEL = "mako_rate_limit_pauses";

export const CREATE_RATE_LIMITS = `
  CREATE SCHEMA IF NOT EXISTS ${METADATA_SCHEMA};
  CREATE UNLOGGED TABLE IF NOT EXISTS ${RATE_LIMITS_TABLE} (
    key text PRIMARY KEY,
    tat timestamptz NOT NULL,
    paused_until timestamptz NOT NULL DEFAULT '-infinity',
    factor double precision NOT NULL DEFAULT 1 CHECK (factor > 0 AND factor <= 1),
    updated_at timestamptz NOT NULL)`;

const MS = "interval '1 millisecond'";
/** The factor after crediting $5 successes (2% each, as the in-process limiter does). */
const CREDITED = "LEAST(1, r.factor * power(1.02::float8, $5::float8))";
/** T and τ at a factor, from $2 (interval at full pace, ms) and $3 (burst at full pace). */
const emission = (factor: string) => `(($2::float8 / ${factor}) * ${MS})`;
const tolerance = (factor: string) => `((GREATEST(1, floor($3::float8 * ${factor})) - 1) * ($2::float8 / ${factor}) * ${MS})`;

/**
 * Reserves the next slot of key $1 at interval $2 ms and burst $3, crediting $5 successes.
 * Returns `wait_ms`, the slot's start on the database clock (`start_ms`, epoch ms) and the key's `factor`; no row when the slot would be more than $4 ms away
 * (then nothing is taken). $4 null: no cap.
 */
export const RESERVE = `
  WITH c AS (SELECT clock_timestamp() AS now)
  INSERT INTO ${RATE_LIMITS_TABLE} AS r (key, tat, paused_until, factor, updated_at)
  SELECT $1, c.now + GREATEST(1, floor($3::float8)) * $2::float8 * ${MS}, '-infinity', 1, c.now FROM c
  ON CONFLICT (key) DO UPDATE SET
    tat = GREATEST(r.tat, r.paused_until + ${tolerance(CREDITED)}, EXCLUDED.updated_at) + ${emission(CREDITED)},
    factor = ${CREDITED},
    updated_at = EXCLUDED.updated_at
  WHERE $4::float8 IS NULL
     OR GREATEST(r.tat - ${tolerance(CREDITED)}, r.paused_until) <= EXCLUDED.updated_at + $4::float8 * ${MS}
  RETURNING
    GREATEST(0, EXTRACT(EPOCH FROM r.tat - ${emission("r.factor")} - ${tolerance("r.factor")} - r.updated_at) * 1000)::float8 AS wait_ms,
    (EXTRACT(EPOCH FROM GREATEST(r.updated_at, r.tat - ${emission("r.factor")} - ${tolerance("r.factor")})) * 1000)::float8 AS start_ms,
    r.factor`;

/** How far key $1's next slot is (interval $2, burst $3), for a refused reservation's message. */
export const NEXT_SLOT = `
  SELECT GREATEST(0, EXTRACT(EPOCH FROM GREATEST(r.tat - ${tolerance("r.factor")}, r.paused_until) - clock_timestamp()) * 1000)::float8 AS wait_ms
  FROM ${RATE_LIMITS_TABLE} r WHERE r.key = $1`;

/**
 * Pauses key $1 for $2 ms (a later pause already set wins); $3 true also halves the factor
 * (down to 1/32). Tells every process on PAUSE_CHANNEL: key, ms left, reason $4, sender $5.
 */
export const PAUSE = `
  WITH c AS (SELECT clock_timestamp() AS now),
  paused AS (
    INSERT INTO ${RATE_LIMITS_TABLE} AS r (key, tat, paused_until, factor, updated_at)
    SELECT $1, c.now, c.now + $2::float8 * ${MS}, CASE WHEN $3::bool THEN 0.5 ELSE 1 END, c.now FROM c
    ON CONFLICT (key) DO UPDATE SET
      paused_until = GREATEST(r.paused_until, EXCLUDED.paused_until),
      factor = CASE WHEN $3::bool THEN GREATEST(1.0::float8 / 32, r.factor / 2) ELSE r.factor END,
      updated_at = EXCLUDED.updated_at
    RETURNING r.key, r.factor, r.paused_until, r.updated_at)
  SELECT p.factor,
         pg_notify('${PAUSE_CHANNEL}', json_build_object(
           'key', p.key, 'ms', EXTRACT(EPOCH FROM p.paused_until - p.updated_at) * 1000, 'reason', $4::text, 'from', $5::text)::text)
  FROM paused p`;

/**
 * The server says only $2 requests are left (interval $3 ms, burst $4): at most that many
 * slots are free now, none when $2 is 0.
 */
export const CLAMP = `
  UPDATE ${RATE_LIMITS_TABLE} r
  SET tat = GREATEST(r.tat, clock_timestamp()
        + (GREATEST(1, floor($4::float8 * r.factor)) - 1) * ($3::float8 / r.factor) * ${MS}
        - ($2::float8 - 1) * ($3::float8 / r.factor) * ${MS})
  WHERE r.key = $1`;
