import type { Logger } from 'pino';
import type { Db } from '../../platform/db.ts';
import type { Cache } from '../../platform/cache.ts';
import { getBa, listBas, type BalancingAuthority } from '../../grid/ba-repository.ts';
import { combineSources, HOUR_MS, loadBaHours, type DataSource } from '../shared/hourly.ts';
import { loadFactorOverrides, type FactorOverride } from '../intensity/factors.ts';
import { consumptionPoints, hourlyIntensity, loadSystemHours, type SystemHours } from '../intensity/intensity.ts';
import { offLoop } from '../../platform/off-loop.ts';
import { invalidateBa, notifyAnswersChanged } from '../shared/analytics-cache.ts';
import { calendarFor, extend, MODEL_NAMES, type ForecastPoint, type ForecastTarget, type History } from './forecast-model.ts';
import { forecastTarget } from './target-run.ts';
import { ACCURACY_LEADS, LeadScorer, naiveAt, type LeadCell } from './scoring.ts';

export { ACCURACY_LEADS };

export type { ForecastTarget };

export const FORECAST_HORIZON_HOURS = 48;
/** Training windows: demand reads only its own two series; intensity traces every BA, so it reads less. */
export const HISTORY_DAYS: Readonly<Record<ForecastTarget, number>> = { demand: 120, intensity: 35 };
/** No forecast is made from data older than this (it would mostly forecast the past). */
const MAX_DATA_AGE_HOURS = 5 * 24;
const MAX_HORIZON_HOURS = 7 * 24;
const RETENTION_DAYS = 30;

export interface TargetHistory { history: History; source: DataSource }

/** Hourly demand and EIA's day-ahead forecast of one BA over [from, to) (DF reaches into the future): only those two series are read. */
export async function loadDemandHistory(db: Db, ba: BalancingAuthority, from: Date, to: Date): Promise<TargetHistory> {
  const h = (await loadBaHours(db, ba, from, to, ['demand', 'forecast']))!;
  return { history: { ts: h.ts, y: h.demand, df: h.forecast }, source: h.source };
}

/** Each BA's consumption-based lifecycle intensity over the system's hours (values only): the traced part of loadIntensityHistories. */
export function consumptionValues(system: SystemHours, overrides: readonly FactorOverride[]): Map<string, Array<number | null>> {
  const out = new Map<string, Array<number | null>>();
  for (const [ba, points] of consumptionPoints(system, 'lifecycle', overrides)) out.set(ba, points.map((p) => p.value));
  return out;
}

/** Tracing weeks of every BA is CPU for seconds: on a worker thread (platform/off-loop.ts). */
const consumptionValuesOffLoop = offLoop(import.meta.url, 'consumptionValues', consumptionValues);

/** Consumption-based lifecycle intensity of every BA over [from, to), traced once for the whole system (on a worker thread). */
export async function loadIntensityHistories(db: Db, from: Date, to: Date): Promise<Map<string, TargetHistory>> {
  const [system, overrides] = await Promise.all([loadSystemHours(db, from, to), loadFactorOverrides(db)]);
  const out = new Map<string, TargetHistory>();
  for (const [ba, y] of await consumptionValuesOffLoop(system, overrides)) {
    out.set(ba, { history: { ts: system.ts, y }, source: combineSources(system.sources.get(ba) ?? []) });
  }
  return out;
}

export interface TargetForecast { points: ForecastPoint[]; dataThrough: Date; trainRows: number }

function lastKnown(y: History['y']): number {
  for (let i = y.length - 1; i >= 0; i--) if (y[i] !== null && y[i] !== undefined) return i;
  return -1;
}

/**
 * Forecasts a target from the hour after its newest value through `now` + horizon (at most a week ahead of
 * the data); a reason string when it cannot (no data, data older than five days, under two weeks of history).
 */
export function forecastFrom(target: ForecastTarget, h: TargetHistory, timeZone: string, now: Date, horizonHours = FORECAST_HORIZON_HOURS): TargetForecast | string {
  const last = lastKnown(h.history.y);
  if (last < 0) return 'no data';
  const dataThrough = h.history.ts[last]!;
  if (now.getTime() - dataThrough.getTime() > MAX_DATA_AGE_HOURS * HOUR_MS) return `data older than ${MAX_DATA_AGE_HOURS} h`;
  const from = last + 1;
  const until = Math.floor(now.getTime() / HOUR_MS) * HOUR_MS + horizonHours * HOUR_MS;
  const hours = Math.min(MAX_HORIZON_HOURS, Math.round((until - dataThrough.getTime()) / HOUR_MS) - 1);
  const missing = from + hours - h.history.ts.length;
  const history = missing > 0 ? extend(h.history, missing) : h.history;
  const calendar = calendarFor(history.ts, timeZone);
  // DF rows after the data end are EIA's published day-ahead forecast: known at forecast time
  const run = forecastTarget(target, history, calendar, { trainStart: 0, from, horizon: hours, dfKnownUntil: history.ts.length });
  if (!run) return 'under two weeks of usable history';
  return { points: run.points, dataThrough, trainRows: run.trainRows };
}

/** forecastFrom for each of a BA's targets (undefined history: 'no data'), in order: one trip to a worker thread per BA. */
export function forecastTargets(targets: ReadonlyArray<readonly [ForecastTarget, TargetHistory | undefined]>, timeZone: string, now: Date): Array<TargetForecast | string> {
  return targets.map(([target, history]) => (history ? forecastFrom(target, history, timeZone, now) : 'no data'));
}

/** Training the ridge models of one BA is tens of milliseconds of CPU, 73 BAs are seconds: on a worker thread. */
const forecastTargetsOffLoop = offLoop(import.meta.url, 'forecastTargets', forecastTargets);

async function storeRun(db: Db, ba: string, target: ForecastTarget, madeAt: Date, source: DataSource, f: TargetForecast): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`DELETE FROM forecast_runs WHERE ba_code = $1 AND target = $2 AND made_at = $3`, [ba, target, madeAt]);
    await tx.query(`INSERT INTO forecast_runs (ba_code, target, made_at, model, source, data_through, train_rows) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [ba, target, madeAt, MODEL_NAMES[target], source, f.dataThrough, f.trainRows]);
    await tx.query(
      `INSERT INTO forecasts (ba_code, target, made_at, ts, value, low, high, model)
       SELECT $1, $2, $3, t.ts, t.value, t.low, t.high, t.model
         FROM unnest($4::timestamptz[], $5::float8[], $6::float8[], $7::float8[], $8::text[]) AS t (ts, value, low, high, model)`,
      [ba, target, madeAt, f.points.map((p) => p.ts.toISOString()), f.points.map((p) => p.value), f.points.map((p) => p.low), f.points.map((p) => p.high),
        f.points.map((p) => p.method ?? MODEL_NAMES[target])]);
  });
}

export interface RefreshDeps { db: Db; logger: Pick<Logger, 'info' | 'warn' | 'error'>; cache?: Cache | undefined }
export interface RefreshSummary { madeAt: string; stored: number; skipped: Array<{ ba: string; target: ForecastTarget; reason: string }>; failed: string[] }

/**
 * Retrains and re-forecasts demand and consumption-based intensity for every active BA (or `bas`), stores
 * each forecast with its made-at time, prunes runs older than 30 days and drops the BAs' cached answers.
 * One BA failing is logged and the others go on.
 */
export async function refreshForecasts(deps: RefreshDeps, opts: { now?: Date; bas?: readonly string[] } = {}): Promise<RefreshSummary> {
  const { db, logger } = deps;
  const now = opts.now ?? new Date();
  const madeAt = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const horizonEnd = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS + (FORECAST_HORIZON_HOURS + 1) * HOUR_MS);
  const all = await listBas(db);
  const bas = opts.bas ? all.filter((b) => opts.bas!.includes(b.code)) : all;
  const summary: RefreshSummary = { madeAt: madeAt.toISOString(), stored: 0, skipped: [], failed: [] };
  const intensity = await loadIntensityHistories(db, new Date(now.getTime() - HISTORY_DAYS.intensity * 86_400_000), horizonEnd);
  for (const ba of bas) {
    try {
      const targets: Array<[ForecastTarget, TargetHistory | undefined]> = [
        ['demand', ba.generationOnly ? undefined : await loadDemandHistory(db, ba, new Date(now.getTime() - HISTORY_DAYS.demand * 86_400_000), horizonEnd)],
        ['intensity', intensity.get(ba.code)],
      ];
      const forecasts = await forecastTargetsOffLoop(targets, ba.timeZone, now);
      for (const [i, [target, history]] of targets.entries()) {
        const f = forecasts[i]!;
        if (typeof f === 'string') { summary.skipped.push({ ba: ba.code, target, reason: f }); continue; }
        await storeRun(db, ba.code, target, madeAt, history!.source, f);
        summary.stored++;
      }
      if (deps.cache) await invalidateBa(deps.cache, ba.code);
    } catch (err) {
      summary.failed.push(ba.code);
      logger.error({ ba: ba.code, err: (err as Error).message }, 'forecast failed; the other BAs go on');
    }
  }
  // every other process's cache too (web copies with their own cache; a worker's cache is not theirs)
  const refreshed = bas.map((b) => b.code).filter((code) => !summary.failed.includes(code) && summary.skipped.filter((s) => s.ba === code).length < 2);
  await notifyAnswersChanged(db, refreshed).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'forecast change notice not sent; cached answers expire by their TTL'));
  await db.query(`DELETE FROM forecast_runs WHERE made_at < $1`, [new Date(now.getTime() - RETENTION_DAYS * 86_400_000)]);
  logger.info({ madeAt: summary.madeAt, stored: summary.stored, skipped: summary.skipped.length, failed: summary.failed }, 'forecasts refreshed');
  return summary;
}

export interface ForecastRow {
  ts: string; demandMw: number | null; demandLow: number | null; demandHigh: number | null;
  intensity: number | null; intensityLow: number | null; intensityHigh: number | null;
  /** what made each value: the target's model, or the seasonal-naive reference its lead time fell back to */
  demandMethod: string | null; intensityMethod: string | null;
}

export interface LatestForecast {
  ba: string; source: DataSource; dataThrough: string | null; madeAt: string | null;
  /** the model of each target's newest run (null: no run) */
  models: Record<ForecastTarget, string | null>;
  points: ForecastRow[];
}

/**
 * The newest stored demand and intensity forecasts of a BA, merged by hour (every stored hour, oldest first).
 * `madeAt` is the newer of the two runs; `dataThrough` the older of their data ends (the forecast rests on both).
 * `undefined` for an unknown BA; no runs → empty points.
 */
export async function latestForecast(db: Db, code: string): Promise<LatestForecast | undefined> {
  const ba: BalancingAuthority | undefined = await getBa(db, code);
  if (!ba) return undefined;
  const runs = await db.query<{ target: ForecastTarget; made_at: Date | string; source: string; data_through: Date | string; model: string }>(
    `SELECT DISTINCT ON (target) target, made_at, source, data_through, model FROM forecast_runs
      WHERE ba_code = $1 ORDER BY target, made_at DESC`, [ba.code]);
  if (runs.length === 0) return { ba: ba.code, source: 'none', dataThrough: null, madeAt: null, models: { demand: null, intensity: null }, points: [] };
  const rows = await db.query<{ target: ForecastTarget; ts: Date | string; value: number; low: number; high: number; model: string }>(
    `SELECT f.target, f.ts, f.value, f.low, f.high, f.model FROM forecasts f
       JOIN (VALUES ${runs.map((_, i) => `($${2 * i + 2}::text, $${2 * i + 3}::timestamptz)`).join(', ')}) AS r (target, made_at)
         ON r.target = f.target AND r.made_at = f.made_at
      WHERE f.ba_code = $1 ORDER BY f.ts`,
    [ba.code, ...runs.flatMap((r) => [r.target, new Date(r.made_at).toISOString()])]);
  const byTs = new Map<string, ForecastRow>();
  for (const r of rows) {
    const ts = new Date(r.ts).toISOString();
    let row = byTs.get(ts);
    if (!row) byTs.set(ts, (row = { ts, demandMw: null, demandLow: null, demandHigh: null, intensity: null, intensityLow: null, intensityHigh: null, demandMethod: null, intensityMethod: null }));
    if (r.target === 'demand') Object.assign(row, { demandMw: Number(r.value), demandLow: Number(r.low), demandHigh: Number(r.high), demandMethod: r.model });
    else Object.assign(row, { intensity: Number(r.value), intensityLow: Number(r.low), intensityHigh: Number(r.high), intensityMethod: r.model });
  }
  const times = (f: (r: typeof runs[number]) => Date | string) => runs.map((r) => new Date(f(r)).getTime());
  return {
    ba: ba.code,
    source: combineSources(runs.map((r) => r.source)),
    dataThrough: new Date(Math.min(...times((r) => r.data_through))).toISOString(),
    madeAt: new Date(Math.max(...times((r) => r.made_at))).toISOString(),
    models: { demand: runs.find((r) => r.target === 'demand')?.model ?? null, intensity: runs.find((r) => r.target === 'intensity')?.model ?? null },
    points: [...byTs.values()].sort((a, b) => a.ts.localeCompare(b.ts)),
  };
}

export interface AccuracyCell {
  hours: number; mapePct: number | null;
  /** seasonal naive on the same hours: the same hour of the last day observed when the forecast was made */
  naiveMapePct: number | null;
  /** seasonal naive on the same hours: the same hour a week earlier */
  naiveWeekMapePct: number | null;
}
export interface TargetAccuracy { runs: number; all: AccuracyCell; byLead: Array<AccuracyCell & { lead: string }> }
export interface ForecastAccuracy {
  ba: string; source: DataSource; dataThrough: string | null; days: number;
  targets: Record<ForecastTarget, TargetAccuracy>;
}

const ACCURACY_METHODS = ['forecast', 'naiveDay', 'naiveWeek'] as const;

function accuracyCell(c: LeadCell<typeof ACCURACY_METHODS[number]>): AccuracyCell {
  return { hours: c.hours, mapePct: c.mapePct.forecast, naiveMapePct: c.mapePct.naiveDay, naiveWeekMapePct: c.mapePct.naiveWeek };
}

/**
 * How the stored forecasts made in the last `days` did against what was then observed: MAPE by lead time
 * (hours after the data the forecast was made from), beside seasonal naive on the same hours (the same hour
 * of the last day observed when the forecast was made, and the same hour a week earlier), scored by the
 * backtest's LeadScorer. Intensity is compared with the consumption-based lifecycle intensity the forecast
 * targets. Hours not yet observed, or without both naive references, are left out. `undefined` for an unknown BA.
 */
export async function forecastAccuracy(db: Db, code: string, days: number, now = new Date()): Promise<ForecastAccuracy | undefined> {
  const ba = await getBa(db, code);
  if (!ba) return undefined;
  const since = new Date(now.getTime() - days * 86_400_000);
  const runs = await db.query<{ target: ForecastTarget; made_at: Date | string; data_through: Date | string }>(
    `SELECT target, made_at, data_through FROM forecast_runs WHERE ba_code = $1 AND made_at >= $2`, [ba.code, since]);
  const emptyCell = (): AccuracyCell => ({ hours: 0, mapePct: null, naiveMapePct: null, naiveWeekMapePct: null });
  const empty = (): TargetAccuracy => ({ runs: 0, all: emptyCell(), byLead: ACCURACY_LEADS.map((l) => ({ lead: l.lead, ...emptyCell() })) });
  const out: ForecastAccuracy = { ba: ba.code, source: 'none', dataThrough: null, days, targets: { demand: empty(), intensity: empty() } };
  if (runs.length === 0) return out;
  const dataEnd = new Map(runs.map((r) => [`${r.target}|${new Date(r.made_at).getTime()}`, new Date(r.data_through).getTime()]));
  // the week-before reference of the first scored hour lies a week before it
  const from = new Date(Math.min(...runs.map((r) => new Date(r.data_through).getTime())) - 168 * HOUR_MS);
  const to = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS + HOUR_MS);
  const [demand, intensity, points] = await Promise.all([
    loadBaHours(db, ba, from, to, ['demand']),
    hourlyIntensity(db, ba.code, from, to, 'consumption', 'lifecycle'),
    db.query<{ target: ForecastTarget; made_at: Date | string; ts: Date | string; value: number }>(
      `SELECT target, made_at, ts, value FROM forecasts WHERE ba_code = $1 AND made_at >= $2 AND ts < $3 ORDER BY target, made_at, ts`, [ba.code, since, to]),
  ]);
  const t0 = from.getTime();
  const actual: Record<ForecastTarget, ReadonlyArray<number | null>> = { demand: demand!.demand, intensity: intensity!.points.map((p) => p.value) };
  const scorers = { demand: new LeadScorer(ACCURACY_METHODS), intensity: new LeadScorer(ACCURACY_METHODS) };
  for (const p of points) {
    const end = dataEnd.get(`${p.target}|${new Date(p.made_at).getTime()}`);
    if (end === undefined) continue;
    const ts = new Date(p.ts).getTime();
    const lead = Math.round((ts - end) / HOUR_MS);
    const i = (ts - t0) / HOUR_MS;
    const y = actual[p.target];
    scorers[p.target].add(lead, y[i], { forecast: Number(p.value), ...naiveAt(y, i, lead) });
  }
  for (const target of ['demand', 'intensity'] as const) {
    const scores = scorers[target].result();
    out.targets[target] = {
      runs: runs.filter((r) => r.target === target).length,
      all: accuracyCell(scores.all),
      byLead: scores.byLead.map((c) => ({ lead: c.lead, ...accuracyCell(c) })),
    };
  }
  out.source = combineSources([demand!.source, intensity!.source].filter((s) => s !== 'none'));
  const through = [demand!.dataThrough, intensity!.dataThrough].filter((d): d is Date => d !== null).map((d) => d.getTime());
  out.dataThrough = through.length ? new Date(Math.max(...through)).toISOString() : null;
  return out;
}
