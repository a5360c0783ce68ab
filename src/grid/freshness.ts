import { HOUR_MS } from './time.ts';
import { activeHours } from './active-dates.ts';
import type { BalancingAuthority } from './ba-repository.ts';

/** `retired`: the BA's EIA-930 retirement day has ended; no newer hour will come, so it is neither late nor stale. */
export type FreshnessStatus = 'fresh' | 'late' | 'stale' | 'retired';
export const FRESHNESS_STATUSES = ['fresh', 'late', 'stale', 'retired'] as const;

/** The registry fields freshness needs to tell a retired BA from a stale one. */
export type RetirementOf = Pick<BalancingAuthority, 'timeZone' | 'reportingSince' | 'retiredOn'>;

/** True once the BA's last reporting hour (the end of its retirement day, BA-local) has ended by `now`. */
export function isRetired(ba: RetirementOf, now: Date): boolean {
  const { last } = activeHours(ba);
  return last !== null && last.getTime() + HOUR_MS <= now.getTime();
}

/**
 * EIA-930's usual publishing delay per series type, in minutes after the END of an hour (METHODS.md):
 * demand about an hour; net generation, total interchange and generation by fuel about a day;
 * BA-to-BA interchange about two days. The day-ahead demand forecast is published the day before
 * the hours it covers, so its newest hour should lie ahead of now: expected lag 0.
 * Derived CO2 follows the generation it is computed from; an unknown type is treated like generation.
 */
const EXPECTED_LAG_MINUTES: Readonly<Record<string, number>> = {
  demand: 60,
  forecast: 0,
  net_generation: 1440,
  interchange: 1440,
  generation_by_fuel: 1440,
  ba_interchange: 2880,
  co2: 1440,
};

/** Slack for our own schedule: ingestion runs hourly and EIA's delay varies by BA. */
export const SCHEDULE_SLACK_MINUTES = 90;

export function expectedLagMinutes(type: string): number {
  return EXPECTED_LAG_MINUTES[type] ?? 1440;
}

/**
 * Minutes from the end of the newest hour (hour start + 60 min) to `now`; negative when the newest
 * hour lies in the future (forecasts); null without data.
 */
export function lagMinutes(newest: Date | null, now: Date): number | null {
  if (newest === null) return null;
  return Math.round((now.getTime() - (newest.getTime() + HOUR_MS)) / 60_000);
}

/**
 * With L = expectedLagMinutes(type) and S = SCHEDULE_SLACK_MINUTES:
 * fresh when lag ≤ L + S, late when lag ≤ 2·L + 2·S, stale beyond that or without any data.
 * Demand: fresh ≤ 150 min, late ≤ 300 min. Generation/interchange: fresh ≤ 25.5 h, late ≤ 51 h.
 * BA-to-BA: fresh ≤ 49.5 h, late ≤ 99 h. Day-ahead forecast: fresh while it reaches ≥ 90 min back, late to 180.
 * With `ba` given, a BA past its retirement is `retired` whatever its newest hour.
 */
export function freshnessStatus(type: string, newest: Date | null, now: Date): Exclude<FreshnessStatus, 'retired'>;
export function freshnessStatus(type: string, newest: Date | null, now: Date, ba?: RetirementOf): FreshnessStatus;
export function freshnessStatus(type: string, newest: Date | null, now: Date, ba?: RetirementOf): FreshnessStatus {
  if (ba && isRetired(ba, now)) return 'retired';
  const lag = lagMinutes(newest, now);
  if (lag === null) return 'stale';
  const expected = expectedLagMinutes(type);
  if (lag <= expected + SCHEDULE_SLACK_MINUTES) return 'fresh';
  if (lag <= 2 * (expected + SCHEDULE_SLACK_MINUTES)) return 'late';
  return 'stale';
}

/** `{ status, lagMinutes }` for one series type (the shape /now uses). */
export function freshnessOf(type: string) {
  return (newest: Date | null, now: Date, ba?: RetirementOf): { status: FreshnessStatus; lagMinutes: number | null } =>
    ({ status: freshnessStatus(type, newest, now, ba), lagMinutes: lagMinutes(newest, now) });
}

