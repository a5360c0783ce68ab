import type { Db } from '../../platform/db.ts';
import { HOUR_MS } from '../../grid/time.ts';
import { hourlyIntensity } from '../../analytics/intensity/intensity.ts';
import { persistenceForecast } from './backtest.ts';

/** Intensities of a period for planning: actual values and the forecast as known at each decision hour. */
export interface IntensityInputs {
  /** actual intensity per hour of the period (gCO2eq/kWh), null where unknown */
  actual: Array<number | null>;
  /** forecast at decision hour index t for hour index h (indices into the period) */
  forecast: (t: number, h: number) => number | null;
  /** one line: where both came from */
  source: string;
}

/**
 * The intensity forecasts stored by the forecast job (table `forecasts`, target `intensity`, consumption-based,
 * gCO2eq/kWh) for BA `ba`, as they were made: at decision hour t the run with the newest `made_at` ≤ t answers,
 * for the hours it covers. Returns undefined when no run made inside [from − 2 days, to) exists.
 */
export async function storedIntensityForecasts(db: Db, ba: string, from: Date, to: Date): Promise<((t: Date, h: Date) => number | null) | undefined> {
  const rows = await db.query<{ made_at: Date | string; ts: Date | string; value: number }>(
    `SELECT made_at, ts, value FROM forecasts WHERE ba_code = $1 AND target = 'intensity' AND made_at >= $2 AND made_at < $3 ORDER BY made_at`,
    [ba, new Date(from.getTime() - 2 * 86_400_000), to]);
  if (rows.length === 0) return undefined;
  const runs: Array<{ madeAt: number; values: Map<number, number> }> = [];
  for (const r of rows) {
    const madeAt = new Date(r.made_at).getTime();
    if (runs.at(-1)?.madeAt !== madeAt) runs.push({ madeAt, values: new Map() });
    runs.at(-1)!.values.set(new Date(r.ts).getTime(), Number(r.value));
  }
  return (t, h) => {
    let lo = 0, hi = runs.length - 1, best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (runs[mid]!.madeAt <= t.getTime()) { best = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return best < 0 ? null : runs[best]!.values.get(h.getTime()) ?? null;
  };
}

/**
 * Intensities of BA `ba` for the hours [from, to) from the store: actual consumption-based intensity (lifecycle
 * factors), and the stored forecasts as made when they cover the period; otherwise (the forecast job keeps 30 days)
 * a persistence forecast of the actual values known at each hour (`persistenceForecast`), and the source says so.
 * Undefined when the store holds neither for the BA.
 */
export async function intensityFromStore(db: Db, ba: string, from: Date, to: Date): Promise<IntensityInputs | undefined> {
  const series = await hourlyIntensity(db, ba, new Date(from.getTime() - 2 * 86_400_000), to, 'consumption', 'lifecycle');
  const n = Math.round((to.getTime() - from.getTime()) / HOUR_MS);
  const byHour = new Map((series?.points ?? []).map((p) => [p.ts.getTime(), p.value]));
  // two days of history before the period feed the persistence forecast of its first hours
  const lead = 48;
  const withHistory = Array.from({ length: n + lead }, (_, i) => byHour.get(from.getTime() + (i - lead) * HOUR_MS) ?? null);
  const actual = withHistory.slice(lead);
  const stored = await storedIntensityForecasts(db, ba, from, to);
  const hourAt = (i: number) => new Date(from.getTime() + i * HOUR_MS);
  if (stored) {
    return { actual, forecast: (t, h) => stored(hourAt(t), hourAt(h)), source: `${ba}: consumption-based intensity forecasts as stored by the forecast job (newest run made before each hour); actual: consumption-based, lifecycle factors` };
  }
  if (!actual.some((v) => v !== null)) return undefined;
  const persistence = persistenceForecast(withHistory);
  return { actual, forecast: (t, h) => persistence(t + lead, h + lead), source: `${ba}: no stored intensity forecasts for the period, so each plan used a persistence forecast (the same hour of the last observed day); actual: consumption-based, lifecycle factors` };
}
