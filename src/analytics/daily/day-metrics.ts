import { fuelInfo, isStorage } from '../intensity/factors.ts';
import { expectedAt, INTENSITY_UNIT, type SeriesSpan } from '../intensity/intensity.ts';
import { present } from '../shared/hourly.ts';

/**
 * The figures of one BA-local day, shared by the Daily Pulse and the baselines (one rule for both, so a day's
 * figure is the same number, or the same null with the same reason, in either answer).
 */

type Column = ReadonlyArray<number | null>;

/** The hours of one local day a pulse is computed from (column-aligned on `ts`), intensity in gCO2eq/kWh. */
export interface DayHours {
  ts: readonly Date[];
  demand: Column;
  forecast: Column;
  totalInterchange: Column;
  fuels: Readonly<Record<string, Column>>;
  intensity: Column;
}

export interface AtValue { ts: string; value: number }

/** The figures of a day that can be null for missing hours, each named by its path in the answer. */
export type DayFigure = 'demand.energyMwh' | 'demand.peakMw' | 'demand.minMw' | 'forecast.mapePct' | 'renewableShare' | 'mix.share' | 'intensity.avg' | 'netInterchangeMwh';

/**
 * How many of a day's hours a figure needs. Sums (energy, net interchange) need every hour: a sum over the hours
 * present is not the day's energy. Extremes, shares, averages and the forecast error accept up to a quarter of
 * the hours missing (the coverage is given beside them in `missingHours`).
 */
export const NEEDS = { every: 'every hour', most: 'all but a quarter of the hours' } as const;
const usable = (needs: keyof typeof NEEDS, missing: number, hours: number) => (needs === 'every' ? missing === 0 : missing <= Math.floor(hours / 4));

/** Daily metrics of one BA-local day. Missing hours are counted, never filled in; a figure without enough hours is null with a reason. */
export interface DayMetrics {
  hours: number;
  missingHours: { demand: number; forecast: number; fuels: number; intensity: number; interchange: number };
  demand: { peakMw: number | null; peakAt: string | null; minMw: number | null; minAt: string | null; energyMwh: number | null };
  forecast: { mapePct: number | null; biasPct: number | null; hoursCompared: number };
  /** mwh: null when the fuel's series misses an hour of the day (a partial sum is not the day's energy) */
  mix: Array<{ fuel: string; name: string; mwh: number | null; share: number | null }>;
  renewableShare: number | null;
  carbonFreeShare: number | null;
  intensity: { avg: number | null; cleanest: AtValue | null; dirtiest: AtValue | null; unit: typeof INTENSITY_UNIT };
  netInterchangeMwh: number | null;
  /** why a figure is null although some of its hours are there, e.g. 'demand missing for 23 of 24 hours (needs every hour)' */
  reasons: Partial<Record<DayFigure, string>>;
}


/** Index of the largest (or smallest) present value; the earliest wins ties. */
function extremeIndex(values: Column, better: (a: number, b: number) => boolean): number {
  let best = -1;
  values.forEach((v, i) => { if (present(v) && (best < 0 || better(v, values[best]!))) best = i; });
  return best;
}

function sumPresent(values: Column): number | null {
  let n = 0;
  let s = 0;
  for (const v of values) if (present(v)) { n++; s += v; }
  return n ? s : null;
}

const missing = (values: Column) => values.filter((v) => !present(v)).length;

/**
 * Forecast error of EIA's day-ahead forecast (DF) against demand (D) over the hours with both, D > 0:
 * MAPE = mean(|DF − D| / D) × 100; bias = Σ(DF − D) / Σ D × 100 (positive = over-forecast).
 */
export function forecastError(demand: Column, forecast: Column): DayMetrics['forecast'] {
  let n = 0;
  let ape = 0;
  let diff = 0;
  let total = 0;
  demand.forEach((d, i) => {
    const f = forecast[i];
    if (!present(d) || !present(f) || d <= 0) return;
    n++;
    ape += Math.abs(f - d) / d;
    diff += f - d;
    total += d;
  });
  return n ? { mapePct: (ape / n) * 100, biasPct: (diff / total) * 100, hoursCompared: n } : { mapePct: null, biasPct: null, hoursCompared: 0 };
}

/**
 * Energy by fuel over the day (MWh = Σ hourly MW): positive values only, as for intensity (negative values
 * are station load, pumping or charging). Shares are of all positive generation, storage discharge included.
 */
export function dailyMix(fuels: Readonly<Record<string, Column>>): Pick<DayMetrics, 'mix' | 'renewableShare' | 'carbonFreeShare'> {
  const mwh = Object.entries(fuels).map(([fuel, values]) => ({ fuel, mwh: values.reduce<number>((s, v) => s + (present(v) && v > 0 ? v : 0), 0), complete: missing(values) === 0 }));
  const total = mwh.reduce((s, f) => s + f.mwh, 0);
  const share = (v: number) => (total > 0 ? v / total : null);
  const sumWhere = (keep: (code: string) => boolean) => mwh.filter((f) => keep(f.fuel)).reduce((s, f) => s + f.mwh, 0);
  return {
    mix: mwh.sort((a, b) => b.mwh - a.mwh).map((f) => ({ fuel: f.fuel, name: fuelInfo(f.fuel).name, mwh: f.complete ? f.mwh : null, share: share(f.mwh) })),
    renewableShare: share(sumWhere((c) => fuelInfo(c).renewable)),
    carbonFreeShare: share(sumWhere((c) => fuelInfo(c).carbonFree && !isStorage(c))),
  };
}

/**
 * Hours in which some fuel of the mix has no value (a fuel with no value at all that hour makes the mix of the
 * hour partial, as partial-fuel-data does for intensity). The columns are every fuel expected that day
 * (withExpectedFuels), so a fuel not published yet counts as missing, not as absent.
 */
function hoursMissingFuel(fuels: Readonly<Record<string, Column>>, n: number): number {
  const columns = Object.values(fuels);
  let count = 0;
  for (let i = 0; i < n; i++) if (columns.length === 0 || columns.some((c) => !present(c[i]))) count++;
  return count;
}

/**
 * The day's fuel columns plus an all-null column for each fuel series the store expects at every hour of the
 * day (see expectedAt) but that has no row in it yet: a fuel published late is missing from the mix, not zero.
 */
export function withExpectedFuels(fuels: Readonly<Record<string, Column>>, ts: readonly Date[], spans: Readonly<Record<string, SeriesSpan>>): Record<string, Column> {
  const out: Record<string, Column> = { ...fuels };
  for (const [fuel, span] of Object.entries(spans)) {
    if (!(fuel in out) && ts.length > 0 && ts.every((t) => expectedAt(span, t.getTime()))) out[fuel] = ts.map(() => null);
  }
  return out;
}

export function dayMetrics(day: DayHours): DayMetrics {
  const hours = day.ts.length;
  const iso = (i: number) => (i < 0 ? null : day.ts[i]!.toISOString());
  const missingHours = {
    demand: missing(day.demand), forecast: missing(day.forecast), fuels: hoursMissingFuel(day.fuels, hours),
    intensity: missing(day.intensity), interchange: missing(day.totalInterchange),
  };
  const reasons: DayMetrics['reasons'] = {};
  /** Whether the figures of `input` may be given; when not, says why under each figure. */
  const gate = (figures: DayFigure[], input: string, count: number, needs: keyof typeof NEEDS): boolean => {
    if (usable(needs, count, hours)) return true;
    for (const f of figures) reasons[f] = `${input} missing for ${count} of ${hours} hours (needs ${NEEDS[needs]})`;
    return false;
  };
  const extremes = gate(['demand.peakMw', 'demand.minMw'], 'demand', missingHours.demand, 'most');
  const energy = gate(['demand.energyMwh'], 'demand', missingHours.demand, 'every');
  const intensityOk = gate(['intensity.avg'], 'intensity', missingHours.intensity, 'most');
  // the shares of the mix and of each fuel follow one rule: a mix with too many hours missing has no shares
  const mixOk = gate(['renewableShare', 'mix.share'], 'some fuel of the mix', missingHours.fuels, 'most');
  const interchangeOk = gate(['netInterchangeMwh'], 'total interchange', missingHours.interchange, 'every');
  const forecast = forecastError(day.demand, day.forecast);
  const forecastOk = gate(['forecast.mapePct'], 'demand or its day-ahead forecast', hours - forecast.hoursCompared, 'most');
  const peak = extremes ? extremeIndex(day.demand, (a, b) => a > b) : -1;
  const min = extremes ? extremeIndex(day.demand, (a, b) => a < b) : -1;
  const cleanest = intensityOk ? extremeIndex(day.intensity, (a, b) => a < b) : -1;
  const dirtiest = intensityOk ? extremeIndex(day.intensity, (a, b) => a > b) : -1;
  const intensities = day.intensity.filter(present);
  const mix = dailyMix(day.fuels);
  return {
    hours,
    missingHours,
    demand: {
      peakMw: peak < 0 ? null : day.demand[peak]!, peakAt: iso(peak),
      minMw: min < 0 ? null : day.demand[min]!, minAt: iso(min),
      energyMwh: energy ? sumPresent(day.demand) : null,
    },
    forecast: forecastOk ? forecast : { mapePct: null, biasPct: null, hoursCompared: forecast.hoursCompared },
    mix: mixOk ? mix.mix : mix.mix.map((f) => ({ ...f, share: null })),
    renewableShare: mixOk ? mix.renewableShare : null,
    carbonFreeShare: mixOk ? mix.carbonFreeShare : null,
    intensity: {
      avg: intensityOk && intensities.length ? intensities.reduce((s, v) => s + v, 0) / intensities.length : null,
      cleanest: cleanest < 0 ? null : { ts: iso(cleanest)!, value: day.intensity[cleanest]! },
      dirtiest: dirtiest < 0 ? null : { ts: iso(dirtiest)!, value: day.intensity[dirtiest]! },
      unit: INTENSITY_UNIT,
    },
    netInterchangeMwh: interchangeOk ? sumPresent(day.totalInterchange) : null,
    reasons,
  };
}
