import { Matrix, solve } from 'ml-matrix';
import { HOUR_MS } from '../shared/hourly.ts';
import { wallClock } from '../../grid/local-day.ts';
import { usable } from './scoring.ts';

type Column = ReadonlyArray<number | null>;

/** Consecutive hourly values of one target (ts = UTC hour starts), with EIA's day-ahead forecast when there is one. */
export interface History { ts: readonly Date[]; y: Column; df?: Column | undefined }

export type ForecastTarget = 'demand' | 'intensity';

/**
 * Each target has the model that won its backtest (bench/RESULTS.md): demand follows the calendar and EIA's
 * own day-ahead forecast; carbon intensity follows the weather of the last hours and days, which persists.
 */
export const MODEL_NAMES: Readonly<Record<ForecastTarget, string>> = { demand: 'ridge-log-calendar-lags-v1', intensity: 'direct-ridge-log-v2' };

/**
 * Ridge regression on, per hour: an intercept, local hour-of-day and weekday one-hots, two annual harmonics
 * (sin/cos of 2π·doy/365.25 and 4π·doy/365.25), the value 24 h and 168 h earlier, and (the "with DF" variant)
 * EIA's day-ahead demand forecast for that hour. Values enter as ln(value / median training value): effects are
 * multiplicative (a hot afternoon scales the whole profile) and the penalty is unit-free; the log variant beat the
 * linear one on every real BA of the backtest. Hours beyond 24 h ahead use the model's own earlier predictions as lags.
 */
export const MODEL_DEFINITIONS: Readonly<Record<ForecastTarget, string>> = {
  demand: 'Demand: ridge regression (λ = 1) of ln(value / median) on local hour-of-day and weekday one-hots, two annual harmonics, the value 24 h and 168 h '
    + 'earlier (in the same log scale) and, for hours where EIA has published its day-ahead forecast (DF), that forecast. Hours further ahead than one day '
    + 'use the model\'s own predictions as lags. Band: the 5th and 95th percentiles of the in-sample relative residuals, widened by √(1 + days ahead).',
  intensity: 'Carbon intensity: a direct multi-horizon ridge regression (λ = 1) of ln(value / median), one set of coefficients per horizon bucket '
    + '(1, 2, … 6 h, then wider buckets to 7 days), on the newest observed value, the same hour of the last observed day, the mean of that hour over the '
    + '7 observed days before, the mean of the newest hour\'s clock hour over the 7 days before it (so today\'s departure from the usual profile '
    + 'fades with the horizon as the data says it does) and the same hour a week earlier (the weekly rhythm of demand). '
    + 'Band: the 5th and 95th percentiles of the in-sample relative residuals of the horizon bucket.',
};

/** Ridge penalty of both models (the intercept is not penalised). */
export const LAMBDA = 1;
const HARMONICS = 2;
export const FEATURES = 1 + 24 + 7 + 2 * HARMONICS + 2;

/** Relative band quantiles (a ~90 % interval from in-sample residuals). */
export const BAND = { low: 0.05, high: 0.95 };

export interface FittedModel {
  withDf: boolean; log: boolean; beta: number[]; scale: number; band: { low: number; high: number }; rows: number;
  /** the training range: predictions are kept inside it (a grid's floor, e.g. hydro-only hours, is not crossed) */
  range: { min: number; max: number };
}

/** Values enter as v / scale, or as ln(v / scale) for the log variant (multiplicative effects). */
const into = (m: { log: boolean; scale: number }, v: number) => (m.log ? Math.log(v / m.scale) : v / m.scale);
const outOf = (m: { log: boolean; scale: number }, z: number) => (m.log ? Math.exp(z) : z) * m.scale;

export interface Calendar { hour: number; weekday: number; doy: number }

function calendarOf(t: Date, timeZone: string): Calendar {
  const w = wallClock(t, timeZone);
  const day = Date.UTC(w.year, w.month - 1, w.day);
  return { hour: w.hour, weekday: new Date(day).getUTCDay(), doy: (day - Date.UTC(w.year, 0, 1)) / 86_400_000 };
}

function featureRow(c: Calendar, lag24: number, lag168: number, df: number | null, m: { log: boolean; scale: number }): number[] {
  const x = new Array<number>(FEATURES + (df === null ? 0 : 1)).fill(0);
  x[0] = 1;
  x[1 + c.hour] = 1;
  x[25 + c.weekday] = 1;
  for (let k = 1; k <= HARMONICS; k++) {
    const a = (2 * Math.PI * k * c.doy) / 365.25;
    x[32 + 2 * (k - 1)] = Math.sin(a);
    x[33 + 2 * (k - 1)] = Math.cos(a);
  }
  x[FEATURES - 2] = into(m, lag24);
  x[FEATURES - 1] = into(m, lag168);
  if (df !== null) x[FEATURES] = into(m, df);
  return x;
}

/** A day-ahead forecast far from demand (PJM's early rows: DF ≈ D/3) is a data error, not a feature. */
export function plausibleDf(df: number | null | undefined, reference: number | null | undefined): df is number {
  return usable(df) && usable(reference) && df / reference > 0.5 && df / reference < 2;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : 1;
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

/**
 * Fits on the hours [start, end) of `h` that have a positive value and both lags (and a plausible DF for the
 * DF variant). Rows whose value jumps by more than ×5 against the day before are left out as data errors.
 * `undefined` with fewer than two weeks of usable rows.
 */
export function fitModel(h: History, calendar: readonly Calendar[], opts: { withDf: boolean; log?: boolean; start?: number; end?: number }): FittedModel | undefined {
  const start = Math.max(168, opts.start ?? 0);
  const end = opts.end ?? h.y.length;
  const idx: number[] = [];
  for (let i = start; i < end; i++) {
    const y = h.y[i];
    const l24 = h.y[i - 24];
    const l168 = h.y[i - 168];
    if (!usable(y) || !usable(l24) || !usable(l168) || y / l24 > 5 || l24 / y > 5) continue;
    if (opts.withDf && !plausibleDf(h.df?.[i], y)) continue;
    idx.push(i);
  }
  if (idx.length < 14 * 24) return undefined;
  const m = { log: opts.log ?? false, scale: median(idx.map((i) => h.y[i]!)) };
  const p = FEATURES + (opts.withDf ? 1 : 0);
  const xtx = new Float64Array(p * p);
  const xty = new Float64Array(p);
  const rows: number[][] = [];
  for (const i of idx) {
    const x = featureRow(calendar[i]!, h.y[i - 24]!, h.y[i - 168]!, opts.withDf ? h.df![i]! : null, m);
    rows.push(x);
    const y = into(m, h.y[i]!);
    for (let a = 0; a < p; a++) {
      const xa = x[a]!;
      if (xa === 0) continue;
      xty[a] = xty[a]! + xa * y;
      for (let b = 0; b < p; b++) xtx[a * p + b] = xtx[a * p + b]! + xa * x[b]!;
    }
  }
  // the intercept is not penalised
  for (let a = 1; a < p; a++) xtx[a * p + a] = xtx[a * p + a]! + LAMBDA;
  const A = new Matrix(Array.from({ length: p }, (_, a) => Array.from(xtx.subarray(a * p, a * p + p))));
  const beta = solve(A, Matrix.columnVector(Array.from(xty))).getColumn(0);
  const residuals = idx.map((i, k) => {
    const fit = outOf(m, dot(beta, rows[k]!));
    return (h.y[i]! - fit) / fit;
  });
  const values = idx.map((i) => h.y[i]!);
  return {
    withDf: opts.withDf, ...m, beta, band: { low: quantile(residuals, BAND.low), high: quantile(residuals, BAND.high) }, rows: idx.length,
    range: { min: Math.min(...values), max: Math.max(...values) },
  };
}

export function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** One forecast hour; `method` names what made it (a model's name, or a seasonal-naive reference it fell back to). */
export interface ForecastPoint { ts: Date; value: number; low: number; high: number; method?: string }

export interface Models { base: FittedModel; withDf?: FittedModel | undefined }

export function calendarFor(ts: readonly Date[], timeZone: string): Calendar[] {
  return ts.map((t) => calendarOf(t, timeZone));
}

/**
 * Predicts the hours [from, from + horizon) of `h` (indexes into its arrays; values at and after `from` are
 * treated as unknown, except DF where `dfKnownUntil` allows). Lags come from the known history, or from the
 * model's own earlier predictions. A missing lag falls back to the other lag; with neither, the hour is skipped.
 */
export function predictAhead(h: History, calendar: readonly Calendar[], models: Models, from: number, horizon: number, dfKnownUntil = from): ForecastPoint[] {
  const filled: (number | null)[] = h.y.slice(Math.max(0, from - 168), from).map((v) => (usable(v) ? v : null));
  const offset = Math.max(0, from - 168);
  const at = (i: number) => (i >= offset && i - offset < filled.length ? filled[i - offset] ?? null : null);
  const out: ForecastPoint[] = [];
  for (let k = 0; k < horizon; k++) {
    const i = from + k;
    const l24 = at(i - 24) ?? at(i - 168);
    const l168 = at(i - 168) ?? at(i - 24);
    if (l24 === null || l168 === null || !calendar[i]) { filled.push(null); continue; }
    const df = i < dfKnownUntil ? h.df?.[i] : undefined;
    const model = models.withDf && plausibleDf(df, l24) ? models.withDf : models.base;
    const raw = outOf(model, dot(model.beta, featureRow(calendar[i], l24, l168, model.withDf ? df! : null, model)));
    const value = Math.min(model.range.max, Math.max(model.range.min, raw));
    const widen = Math.sqrt(1 + Math.floor(k / 24));
    filled.push(value);
    out.push({ ts: h.ts[i] ?? new Date(h.ts[0]!.getTime() + i * HOUR_MS), value, low: value * (1 + model.band.low * widen), high: value * (1 + model.band.high * widen) });
  }
  return out;
}

export function fitModels(h: History, calendar: readonly Calendar[], start: number, end: number, log = true): Models | undefined {
  const base = fitModel(h, calendar, { withDf: false, log, start, end });
  if (!base) return undefined;
  return { base, withDf: h.df ? fitModel(h, calendar, { withDf: true, log, start, end }) : undefined };
}

/** Extends a history by `hours` unknown hours (for forecasting past its end). */
export function extend(h: History, hours: number): History {
  const last = h.ts.at(-1)!.getTime();
  const more = Array.from({ length: hours }, (_, k) => new Date(last + (k + 1) * HOUR_MS));
  return { ts: [...h.ts, ...more], y: [...h.y, ...more.map(() => null)], df: h.df ? [...h.df, ...more.map(() => null)] : undefined };
}

