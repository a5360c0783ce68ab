import type { Db } from '../../platform/db.ts';
import { getBa, type BalancingAuthority } from '../../grid/ba-repository.ts';
import { baselineDates, compareDays, type BaselineMetric } from './baseline.ts';
import { dayMetrics, withExpectedFuels, type DayHours, type DayMetrics } from './day-metrics.ts';
import { hourStarts, loadBaHours, type BaHours, type DataSource, combineSources } from '../shared/hourly.ts';
import { factorLookup, loadFactorOverrides, type FactorOverride } from '../intensity/factors.ts';
import { consumptionPoints, loadSpans, loadSystemAt, productionPoints, type IntensityBasis, type SeriesSpan, type SystemHours } from '../intensity/intensity.ts';
import { latestCompleteDay, localDateOf, localDay, type LocalDay } from '../../grid/local-day.ts';
import { HttpProblem } from '../../platform/problem.ts';

/** One loaded local day: its hours, intensity, and where they came from. */
export interface LoadedDay { day: LocalDay; hours: DayHours; dataThrough: Date | null; source: DataSource }

interface RawDay { day: LocalDay; hours: BaHours }

export async function loadRawDay(db: Db, ba: BalancingAuthority, date: string): Promise<RawDay> {
  const day = localDay(date, ba.timeZone);
  return { day, hours: (await loadBaHours(db, ba, day.from, day.to))! };
}

/**
 * Hourly intensity (lifecycle factors) of the days' hours, keyed by hour start: production-based from each
 * day's own fuel columns (no further query); consumption-based from `system`, the BAs connected to `ba` over
 * all the days' hours (one query, see systemFor, one trace). Also the sources the trace read.
 */
function intensityOf(ba: string, days: readonly RawDay[], system: SystemHours | undefined, overrides: readonly FactorOverride[]): { byTs: Map<number, number | null>; sources: string[] } {
  const byTs = new Map<number, number | null>();
  if (!system) {
    const factor = factorLookup('lifecycle', ba, overrides);
    for (const d of days) for (const p of productionPoints(d.hours.ts, d.hours.fuels, factor)) byTs.set(p.ts.getTime(), p.value);
    return { byTs, sources: [] };
  }
  for (const p of consumptionPoints(system, 'lifecycle', overrides).get(ba) ?? []) byTs.set(p.ts.getTime(), p.value);
  return { byTs, sources: [...system.sources.values()].flatMap((s) => [...s]) };
}

/**
 * What consumption-based intensity traces: fuel and interchange columns of every BA connected to `ba` by
 * interchange (the others cannot change its intensity) at the hours of the days. It needs only the days'
 * bounds, so it is read alongside the days themselves.
 */
function systemFor(db: Db, ba: BalancingAuthority, dates: readonly string[]): Promise<SystemHours> {
  const hours = dates.flatMap((d) => { const day = localDay(d, ba.timeZone); return hourStarts(day.from, day.to); });
  return loadSystemAt(db, hours, { reaching: ba.code });
}

function withIntensity(raw: RawDay, intensity: { byTs: Map<number, number | null>; sources: string[] }, fuelSpans: Readonly<Record<string, SeriesSpan>>): LoadedDay {
  const h = raw.hours;
  return {
    day: raw.day,
    hours: { ts: h.ts, demand: h.demand, forecast: h.forecast, totalInterchange: h.totalInterchange, fuels: withExpectedFuels(h.fuels, h.ts, fuelSpans), intensity: h.ts.map((t) => intensity.byTs.get(t.getTime()) ?? null) },
    dataThrough: h.dataThrough,
    source: combineSources([...(h.source === 'none' ? [] : [h.source]), ...intensity.sources]),
  };
}

export interface PulseAnswer extends Omit<DayMetrics, 'hours'> {
  ba: string; source: DataSource; dataThrough: string | null; generatedAt: string;
  date: string; timeZone: string; hours: number; basis: IntensityBasis; baseline: BaselineMetric[];
}

/** The default Daily Pulse date: the BA's latest complete local day. */
export function defaultDate(ba: BalancingAuthority, now: Date): string {
  return latestCompleteDay(now, ba.timeZone);
}

/** The asked local day, or the latest complete one; a day that has not started yet is bad input. */
function dayToShow(ba: BalancingAuthority, date: string | undefined, now: Date): string {
  if (date === undefined) return defaultDate(ba, now);
  if (date > localDateOf(now, ba.timeZone)) throw new HttpProblem(400, `${date} has not started yet in ${ba.timeZone}`, 'date');
  return date;
}

/** Daily Pulse of one loaded day, without its baseline. */
export function pulseOf(ba: string, loaded: LoadedDay, basis: IntensityBasis, now: Date): Omit<PulseAnswer, 'baseline'> {
  return {
    ba, source: loaded.source, dataThrough: loaded.dataThrough?.toISOString() ?? null, generatedAt: now.toISOString(),
    date: loaded.day.date, timeZone: loaded.day.timeZone, basis, ...dayMetrics(loaded.hours),
  };
}

export interface DailyOptions { date?: string | undefined; basis?: IntensityBasis; now?: Date }

/**
 * The asked day (default: the latest complete local day) and its comparison days (four prior same weekdays,
 * same date last year), loaded in parallel; `undefined` for an unknown BA.
 */
async function loadWithComparisons(db: Db, code: string, opts: DailyOptions) {
  const ba = await getBa(db, code);
  if (!ba) return undefined;
  const now = opts.now ?? new Date();
  const basis = opts.basis ?? 'production';
  const date = dayToShow(ba, opts.date, now);
  const comparisons = baselineDates(date);
  const dates = [date, comparisons.lastYear, ...comparisons.priorWeeks];
  const [overrides, raw, system, spans] = await Promise.all([
    loadFactorOverrides(db), Promise.all(dates.map((d) => loadRawDay(db, ba, d))),
    basis === 'consumption' ? systemFor(db, ba, dates) : undefined, loadSpans(db, { ba: ba.code })]);
  const intensity = intensityOf(ba.code, raw, system, overrides);
  const [target, lastYear, ...priorWeeks] = raw.map((r) => withIntensity(r, intensity, spans.fuels.get(ba.code) ?? {}));
  return { ba, now, basis, target: target!, lastYear: lastYear!, priorWeeks };
}

function compare(loaded: { target: LoadedDay; lastYear: LoadedDay; priorWeeks: LoadedDay[] }): BaselineMetric[] {
  return compareDays(
    { date: loaded.target.day.date, metrics: dayMetrics(loaded.target.hours) },
    loaded.priorWeeks.map((d) => ({ date: d.day.date, metrics: dayMetrics(d.hours) })),
    { date: loaded.lastYear.day.date, metrics: dayMetrics(loaded.lastYear.hours) });
}

/**
 * Daily Pulse of a BA-local day (default: the latest complete local day) with its baseline comparison;
 * `undefined` for an unknown BA. Six local days are read: the day, the same weekday of the four weeks
 * before, and the same date a year earlier.
 */
export async function dailyPulse(db: Db, code: string, opts: DailyOptions = {}): Promise<PulseAnswer | undefined> {
  const loaded = await loadWithComparisons(db, code, opts);
  if (!loaded) return undefined;
  return { ...pulseOf(loaded.ba.code, loaded.target, loaded.basis, loaded.now), baseline: compare(loaded) };
}

export interface BaselineAnswer {
  ba: string; source: DataSource; dataThrough: string | null; generatedAt: string;
  date: string; timeZone: string; basis: IntensityBasis; metrics: BaselineMetric[];
}

/** The baseline comparison alone (GET /baseline). */
export async function dailyBaseline(db: Db, code: string, opts: DailyOptions = {}): Promise<BaselineAnswer | undefined> {
  const loaded = await loadWithComparisons(db, code, opts);
  if (!loaded) return undefined;
  const { ba, now, basis } = loaded;
  const all = [loaded.target, loaded.lastYear, ...loaded.priorWeeks];
  const through = all.map((d) => d.dataThrough?.getTime() ?? -Infinity).reduce((a, b) => Math.max(a, b), -Infinity);
  return {
    ba: ba.code, source: combineSources(all.map((d) => d.source).filter((s) => s !== 'none')),
    dataThrough: Number.isFinite(through) ? new Date(through).toISOString() : null, generatedAt: now.toISOString(),
    date: loaded.target.day.date, timeZone: ba.timeZone, basis, metrics: compare(loaded),
  };
}
