/**
 * How many devices a rollout may have reached after running for a while (like AWS IoT Jobs' rollout config):
 * - `max-per-minute`: at most maxPerMinute devices a minute, spread evenly (a second's worth at once);
 * - `exponential`: basePerMinute in the first minute, × incrementFactor every minute after, up to maxPerMinute.
 * Cumulative counts, so a runner that missed ticks (a restart, another copy holding the lock) catches up at once.
 */
export interface RolloutRate {
  kind: 'max-per-minute' | 'exponential';
  maxPerMinute: number;
  basePerMinute?: number | null | undefined;
  incrementFactor?: number | null | undefined;
}

const MINUTE = 60_000;
/** What a rollout may issue at once when it starts: one second's worth. */
const HEAD_START_MS = 1_000;

/** Devices a rollout may have reached `elapsedMs` after it started (never more than total, at least 1 when total ≥ 1). */
export function rolloutBudget(rate: RolloutRate, elapsedMs: number, total: number): number {
  if (total <= 0) return 0;
  const t = Math.max(0, elapsedMs) + HEAD_START_MS;
  let allowed: number;
  if (rate.kind === 'max-per-minute' || !rate.basePerMinute || !rate.incrementFactor) {
    allowed = (rate.maxPerMinute * t) / MINUTE;
  } else {
    // per-minute rate r_k = min(max, base · factor^k); sum the whole minutes, then the part of the current one
    const minutes = t / MINUTE;
    const whole = Math.floor(minutes);
    allowed = 0;
    let r = rate.basePerMinute;
    for (let k = 0; k < whole; k++) {
      if (r >= rate.maxPerMinute) { allowed += rate.maxPerMinute * (whole - k); r = rate.maxPerMinute; break; }
      allowed += r;
      r = Math.min(rate.maxPerMinute, r * rate.incrementFactor);
      if (allowed >= total) return total;
    }
    allowed += Math.min(r, rate.maxPerMinute) * (minutes - whole);
  }
  return Math.max(1, Math.min(total, Math.floor(allowed + 1e-9)));
}

/**
 * How long a rollout at `rate` takes to reach all `total` devices, ms (the first elapsed time at which
 * rolloutBudget allows total; to the second). Used to refuse a rollout that cannot reach every device before its
 * schedule starts.
 */
export function rolloutDurationMs(rate: RolloutRate, total: number): number {
  if (rolloutBudget(rate, 0, total) >= total) return 0;
  let lo = 0, hi = MINUTE;
  while (rolloutBudget(rate, hi, total) < total) hi *= 2;
  while (hi - lo > 1_000) {
    const mid = Math.floor((lo + hi) / 2);
    if (rolloutBudget(rate, mid, total) >= total) hi = mid; else lo = mid;
  }
  return hi;
}
