import type { DayFigure, DayMetrics } from './day-metrics.ts';
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
  /** value: why the day's own value is null (the same reason as in its Daily Pulse) */
  reasons: { value: string | null; priorWeeks: string | null; lastYear: string | null };
}

export interface DatedMetrics { date: string; metrics: DayMetrics }

interface MetricDef {
  metric: string; unit: string; definition: string;
  /** the day's figure it compares (null when the day lacks the hours it needs: see day-metrics.ts) */
  figure: DayFigure;
  value: (m: DayMetrics) => number | null;
}

/** Each metric is a figure of the day as its Daily Pulse gives it: usable exactly when the pulse gives it. */
export const BASELINE_METRICS: readonly MetricDef[] = [
  { metric: 'demandEnergy', unit: 'MWh', definition: 'Σ hourly demand over the local day (23, 24 or 25 hours)', figure: 'demand.energyMwh', value: (m) => m.demand.energyMwh },
  { metric: 'peakDemand', unit: 'MW', definition: 'highest hourly demand of the local day', figure: 'demand.peakMw', value: (m) => m.demand.peakMw },
  { metric: 'minDemand', unit: 'MW', definition: 'lowest hourly demand of the local day', figure: 'demand.minMw', value: (m) => m.demand.minMw },
  { metric: 'renewableShare', unit: 'fraction', definition: 'renewable generation (hydro, wind, solar, geothermal, biomass) / all positive generation', figure: 'renewableShare', value: (m) => m.renewableShare },
  { metric: 'avgIntensity', unit: 'gCO2eq/kWh', definition: 'mean of the hourly carbon intensities of the day (lifecycle factors)', figure: 'intensity.avg', value: (m) => m.intensity.avg },
  { metric: 'forecastMape', unit: '%', definition: 'mean absolute percentage error of EIA\'s day-ahead demand forecast', figure: 'forecast.mapePct', value: (m) => m.forecast.mapePct },
  { metric: 'netInterchange', unit: 'MWh', definition: 'Σ hourly total interchange (positive = net export)', figure: 'netInterchangeMwh', value: (m) => m.netInterchangeMwh },
];

/** Usable value of a metric on a day, or null. */
const usableValue = (def: MetricDef, m: DayMetrics): number | null => def.value(m);

function comparison(value: number | null, against: number, days: string[]): Comparison | null {
  if (value === null) return null;
  const diff = value - against;
  return { value: against, diff, pct: against === 0 ? null : (diff / Math.abs(against)) * 100, days };
}

/**
 * Compares each metric of `target` with the mean of the usable prior-week days and with last year's day.
 * A day is usable for a metric when its figure is not null (dayMetrics: sums need every hour; extremes, shares,
 * averages and the forecast error all but a quarter of the hours). Without usable comparison data the comparison is
 * null and `reasons` says why; a target value that is not usable makes both comparisons null.
 */
export function compareDays(target: DatedMetrics, priorWeeks: readonly DatedMetrics[], lastYear: DatedMetrics): BaselineMetric[] {
  return BASELINE_METRICS.map((def) => {
    const value = usableValue(def, target.metrics);
    const reasons: BaselineMetric['reasons'] = { value: null, priorWeeks: null, lastYear: null };
    const prior = priorWeeks.map((d) => ({ date: d.date, v: usableValue(def, d.metrics) })).filter((d): d is { date: string; v: number } => d.v !== null);
    const lastYearValue = usableValue(def, lastYear.metrics);
    if (value === null) {
      reasons.value = target.metrics.reasons[def.figure] ?? `no ${def.metric} on ${target.date}`;
      reasons.priorWeeks = reasons.lastYear = `no usable ${def.metric} on ${target.date} (${reasons.value})`;
    } else {
      if (prior.length === 0) reasons.priorWeeks = `no usable ${def.metric} on ${priorWeeks.map((d) => d.date).join(', ')}`;
      if (lastYearValue === null) reasons.lastYear = `no usable ${def.metric} on ${lastYear.date}`;
    }
    const mean = prior.length ? prior.reduce((s, d) => s + d.v, 0) / prior.length : null;
    return {
      metric: def.metric, unit: def.unit, definition: def.definition, value,
      priorWeeks: value === null || mean === null ? null : comparison(value, mean, prior.map((d) => d.date)),
      lastYear: value === null || lastYearValue === null ? null : comparison(value, lastYearValue, [lastYear.date]),
      reasons,
    };
  });
}
