import type { Db } from '../platform/db.ts';
import { getBa } from '../grid/ba-repository.ts';
import { combineSources, HOUR_MS, type DataSource } from './hourly.ts';

export type FreshnessStatus = 'fresh' | 'late' | 'stale';

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
 */
export function freshnessStatus(type: string, newest: Date | null, now: Date): FreshnessStatus {
  const lag = lagMinutes(newest, now);
  if (lag === null) return 'stale';
  const expected = expectedLagMinutes(type);
  if (lag <= expected + SCHEDULE_SLACK_MINUTES) return 'fresh';
  if (lag <= 2 * (expected + SCHEDULE_SLACK_MINUTES)) return 'late';
  return 'stale';
}

/** `{ status, lagMinutes }` for one series type (the shape /now uses). */
export function freshnessOf(type: string) {
  return (newest: Date | null, now: Date): { status: FreshnessStatus; lagMinutes: number | null } =>
    ({ status: freshnessStatus(type, newest, now), lagMinutes: lagMinutes(newest, now) });
}

export interface SeriesFreshness {
  key: string; type: string; subtype: string;
  newest: string | null; lagMinutes: number | null; expectedLagMinutes: number; status: FreshnessStatus;
}

export interface BaFreshness {
  ba: string; source: DataSource; dataThrough: string | null; generatedAt: string;
  series: SeriesFreshness[];
}

/**
 * Newest hour with a non-null value of every series of a BA, its lag and status; `undefined` for an
 * unknown BA. One index probe per series (newest first, skipping null values).
 */
export async function baFreshness(db: Db, code: string, now = new Date()): Promise<BaFreshness | undefined> {
  if (!(await getBa(db, code))) return undefined;
  const rows = await db.query<{ key: string; type: string; subtype: string; source: string; newest: Date | string | null }>(
    `SELECT s.key, s.type, s.subtype, s.source,
            (SELECT o.ts FROM observations o WHERE o.series_id = s.id AND o.value IS NOT NULL ORDER BY o.ts DESC LIMIT 1) AS newest
       FROM series s WHERE s.ba_code = $1 AND s.active ORDER BY s.key`, [code]);
  let through: number | null = null;
  const series = rows.map((r): SeriesFreshness => {
    const newest = r.newest === null ? null : new Date(r.newest);
    // forecasts reach into the future: they do not say how recent the observed data is
    if (newest && r.type !== 'forecast' && (through === null || newest.getTime() > through)) through = newest.getTime();
    return {
      key: r.key, type: r.type, subtype: r.subtype, newest: newest?.toISOString() ?? null,
      lagMinutes: lagMinutes(newest, now), expectedLagMinutes: expectedLagMinutes(r.type), status: freshnessStatus(r.type, newest, now),
    };
  });
  return {
    ba: code, source: combineSources(rows.map((r) => r.source)), dataThrough: through === null ? null : new Date(through).toISOString(),
    generatedAt: now.toISOString(), series,
  };
}
