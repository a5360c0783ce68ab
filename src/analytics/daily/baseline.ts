import type { DayMetrics } from './pulse.ts';
import { addDays, sameDateLastYear } from '../../grid/local-day.ts';

/** The comparison days of a local date: the same weekday of the four weeks before, and the same date a year earlier. */
export function baselineDates(date: string): { priorWeeks: string[]; lastYear: string } {
  return { priorWeeks: [1, 2, 3, 4].map((w) => addDays(date, -7 * w)), lastYear: sameDateLastYear(date) };
}

export interface Comparison { value: number; diff: number; pct: number | null; days: string[] }

export interface BaselineMetric {
  metric: string;
  unit: string;
  definition: string;
  value: number | null;
  /** mean of the usable prior same weekdays, or null (see reasons.priorWeeks) */
  priorWeeks: Comparison | null;
  lastYear: Comparison | null;
  reasons: { priorWeeks: string | null; lastYear: string | null };
}

export interface DatedMetrics { date: string; metrics: DayMetrics }

interface MetricDef {
  metric: string; unit: string; definition: string;
  value: (m: DayMetrics) => number | null;
  /** a day's value is usable only when this many of its input hours are missing or fewer */
  usable: (m: DayMetrics) => boolean;
}

/** Sums (energy) need every hour; extremes, shares and averages accept a few missing hours. */
const complete = (count: (m: DayMetrics) => number) => (m: DayMetrics) => count(m) === 0;
const mostly = (count: (m: DayMetrics) => number) => (m: DayMetrics) => count(m) <= Math.floor(m.hours / 4);

export const BASELINE_METRICS: readonly MetricDef[] = [
  { metric: 'demandEnergy', unit: 'MWh', definition: 'Σ hourly demand over the local day (23, 24 or 25 hours)', value: (m) => m.demand.energyMwh, usable: complete((m) => m.missingHours.demand) },
  { metric: 'peakDemand', unit: 'MW', definition: 'highest hourly demand of the local day', value: (m) => m.demand.peakMw, usable: mostly((m) => m.missingHours.demand) },
  { metric: 'minDemand', unit: 'MW', definition: 'lowest hourly demand of the local day', value: (m) => m.demand.minMw, usable: mostly((m) => m.missingHours.demand) },
  { metric: 'renewableShare', unit: 'fraction', definition: 'renewable generation (hydro, wind, solar, geothermal, biomass) / all positive generation', value: (m) => m.renewableShare, usable: mostly((m) => m.missingHours.fuels) },
  { metric: 'avgIntensity', unit: 'gCO2eq/kWh', definition: 'mean of the hourly carbon intensities of the day (lifecycle factors)', value: (m) => m.intensity.avg, usable: mostly((m) => m.missingHours.intensity) },
  { metric: 'forecastMape', unit: '%', definition: 'mean absolute percentage error of EIA\'s day-ahead demand forecast', value: (m) => m.forecast.mapePct, usable: (m) => m.forecast.hoursCompared >= m.hours - Math.floor(m.hours / 4) },
  { metric: 'netInterchange', unit: 'MWh', definition: 'Σ hourly total interchange (positive = net export)', value: (m) => m.netInterchangeMwh, usable: complete((m) => m.missingHours.interchange) },
];

/** Usable value of a metric on a day, or null. */
function usableValue(def: MetricDef, m: DayMetrics): number | null {
  const v = def.value(m);
  return v !== null && def.usable(m) ? v : null;
}

function comparison(value: number | null, against: number, days: string[]): Comparison | null {
  if (value === null) return null;
  const diff = value - against;
  return { value: against, diff, pct: against === 0 ? null : (diff / Math.abs(against)) * 100, days };
}

/**
 * Compares each metric of `target` with the mean of the usable prior-week days and with last year's day.
 * A day is usable for a metric when its input is complete (sums) or at most a quarter of its hours are
 * missing (extremes, shares, averages, forecast error). Without usable comparison data the comparison is
 * null and `reasons` says why; a target value that is not usable makes both comparisons null.
 */
export function compareDays(target: DatedMetrics, priorWeeks: readonly DatedMetrics[], lastYear: DatedMetrics): BaselineMetric[] {
  return BASELINE_METRICS.map((def) => {
    const value = usableValue(def, target.metrics);
    const reasons: BaselineMetric['reasons'] = { priorWeeks: null, lastYear: null };
    const prior = priorWeeks.map((d) => ({ date: d.date, v: usableValue(def, d.metrics) })).filter((d): d is { date: string; v: number } => d.v !== null);
    const lastYearValue = usableValue(def, lastYear.metrics);
    if (value === null) {
      reasons.priorWeeks = reasons.lastYear = `no usable ${def.metric} on ${target.date} (missing hours)`;
    } else {
      if (prior.length === 0) reasons.priorWeeks = `no usable ${def.metric} on ${priorWeeks.map((d) => d.date).join(', ')}`;
      if (lastYearValue === null) reasons.lastYear = `no usable ${def.metric} on ${lastYear.date}`;
    }
    const mean = prior.length ? prior.reduce((s, d) => s + d.v, 0) / prior.length : null;
    return {
      metric: def.metric, unit: def.unit, definition: def.definition, value: def.value(target.metrics),
      priorWeeks: value === null || mean === null ? null : comparison(value, mean, prior.map((d) => d.date)),
      lastYear: value === null || lastYearValue === null ? null : comparison(value, lastYearValue, [lastYear.date]),
      reasons,
    };
  });
}
