import { Matrix, solve } from 'ml-matrix';
import { HOUR_MS } from '../shared/hourly.ts';
import { localMidnight, wallClock } from '../../grid/local-day.ts';

type Column = ReadonlyArray<number | null>;

/** Consecutive hourly values of one target (ts = UTC hour starts), with EIA's day-ahead forecast when there is one. */
export interface History { ts: readonly Date[]; y: Column; df?: Column | undefined }

export type ForecastTarget = 'demand' | 'intensity';

/**
 * Each target has the model that won its backtest (bench/RESULTS.md): demand follows the calendar and EIA's
 * own day-ahead forecast; carbon intensity follows the weather of the last hours and days, which persists.
 */
export const MODEL_NAMES: Readonly<Record<ForecastTarget, string>> = { demand: 'ridge-log-calendar-lags-v1', intensity: 'direct-ridge-log-v1' };

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
    + '7 observed days before, and the mean of the newest hour\'s clock hour over the 7 days before it (so today\'s departure from the usual profile '
    + 'fades with the horizon as the data says it does). Band: the 5th and 95th percentiles of the in-sample relative residuals of the horizon bucket.',
};

const LAMBDA = 1;
const HARMONICS = 2;
export const FEATURES = 1 + 24 + 7 + 2 * HARMONICS + 2;

/** Relative band quantiles (a ~90 % interval from in-sample residuals). */
const BAND = { low: 0.05, high: 0.95 };

export interface FittedModel {
  withDf: boolean; log: boolean; beta: number[]; scale: number; band: { low: number; high: number }; rows: number;
  /** the training range: predictions are kept inside it (a grid's floor, e.g. hydro-only hours, is not crossed) */
  range: { min: number; max: number };
}

/** Values enter as v / scale, or as ln(v / scale) for the log variant (multiplicative effects). */
const into = (m: { log: boolean; scale: number }, v: number) => (m.log ? Math.log(v / m.scale) : v / m.scale);
const outOf = (m: { log: boolean; scale: number }, z: number) => (m.log ? Math.exp(z) : z) * m.scale;

interface Calendar { hour: number; weekday: number; doy: number }

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

/** A value a forecast can learn from or be scored on: finite and positive (MAPE divides by it). */
export const usable = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v) && v > 0;

/** Mean of absolute percentage errors given as fractions, in %; null with none. */
export const mapePct = (errors: readonly number[]): number | null => (errors.length ? (errors.reduce((s, x) => s + x, 0) / errors.length) * 100 : null);

/**
 * Hours back from a forecast hour `k` hours after the data end (0 = the next hour) to the same hour of the last
 * observed day: 24 for the first day ahead, 48 for the second, … The seasonal-naive reference of the backtest
 * and of the accuracy report, and the direct model's "same hour" feature.
 */
export const lastDayLag = (k: number): number => 24 * Math.ceil((k + 1) / 24);

/** A day-ahead forecast far from demand (PJM's early rows: DF ≈ D/3) is a data error, not a feature. */
export function plausibleDf(df: number | null | undefined, reference: number | null | undefined): df is number {
  return usable(df) && usable(reference) && df / reference > 0.5 && df / reference < 2;
}

function median(values: number[]): number {
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

function dot(a: readonly number[], b: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export interface ForecastPoint { ts: Date; value: number; low: number; high: number }

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

/* ---------- Direct multi-horizon model (carbon intensity) ---------- */

/** First horizon (hours after the newest value, 0-based) of each bucket; one coefficient set per bucket. */
const BUCKET_STARTS = [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 18, 21, 24, 30, 36, 42, 48, 60, 72, 96, 120, 144] as const;
const DIRECT_FEATURES = 5;
/** The newest value may be this many hours old (a gap at the forecast origin) before the hour is skipped. */
const MAX_LAST_AGE = 6;
export const MIN_HISTORY_HOURS = 14 * 24;
const MIN_BUCKET_ROWS = 48;

export function bucketOf(k: number): number {
  let b = 0;
  while (b + 1 < BUCKET_STARTS.length && k >= BUCKET_STARTS[b + 1]!) b++;
  return b;
}

export interface DirectModel {
  scale: number; rows: number;
  /** per bucket: coefficients (undefined when too few training rows) and the relative residual band */
  buckets: Array<{ beta: number[]; band: { low: number; high: number } } | undefined>;
  range: { min: number; max: number };
}

/**
 * Features for a forecast made with values known before index `o`, for index o + k; `z` holds ln(value / scale)
 * (null where unknown). `null` when the newest value or both daily references are missing.
 */
function directFeatures(z: ReadonlyArray<number | null>, o: number, k: number): number[] | null {
  let last: number | null = null;
  for (let a = 1; a <= MAX_LAST_AGE && last === null; a++) last = z[o - a] ?? null;
  if (last === null) return null;
  const i = o + k;
  const d = lastDayLag(k) / 24;
  const meanOf = (at: (j: number) => number) => {
    let s = 0;
    let c = 0;
    for (let j = 0; j < 7; j++) {
      const v = z[at(j)];
      if (v !== null && v !== undefined) { s += v; c++; }
    }
    return c ? s / c : null;
  };
  const usual = meanOf((j) => i - 24 * (d + j));
  const usualNow = meanOf((j) => o - 1 - 24 * (j + 1));
  const sameHour = z[i - 24 * d] ?? usual;
  if (usual === null || usualNow === null || sameHour === null) return null;
  return [1, last, sameHour, usual, usualNow];
}

/** ln(value / scale) of the usable values before `end`, null elsewhere. */
function logScaled(y: Column, end: number, scale: number): Array<number | null> {
  return Array.from({ length: end }, (_, i) => (usable(y[i]) ? Math.log(y[i]! / scale) : null));
}

/**
 * Fits one ridge regression per horizon bucket on every origin in [start, end) and every horizon below
 * `horizon` whose target is known before `end`. `undefined` under two weeks of usable values.
 */
export function fitDirect(h: History, start: number, end: number, horizon: number): DirectModel | undefined {
  const values: number[] = [];
  for (let i = Math.max(0, start); i < end; i++) if (usable(h.y[i])) values.push(h.y[i]!);
  if (values.length < MIN_HISTORY_HOURS) return undefined;
  const scale = median(values);
  const z = logScaled(h.y, end, scale);
  const p = DIRECT_FEATURES;
  const nb = bucketOf(horizon - 1) + 1;
  const acc = Array.from({ length: nb }, () => ({ xtx: new Float64Array(p * p), xty: new Float64Array(p), rows: [] as Array<[number[], number]> }));
  for (let o = Math.max(25, start); o < end; o++) {
    for (let k = 0; k < horizon && o + k < end; k++) {
      const y = z[o + k];
      if (y === null || y === undefined) continue;
      const x = directFeatures(z, o, k);
      if (!x) continue;
      const a = acc[bucketOf(k)]!;
      a.rows.push([x, y]);
      for (let r = 0; r < p; r++) {
        a.xty[r] = a.xty[r]! + x[r]! * y;
        for (let c = 0; c < p; c++) a.xtx[r * p + c] = a.xtx[r * p + c]! + x[r]! * x[c]!;
      }
    }
  }
  const buckets = acc.map((a) => {
    if (a.rows.length < MIN_BUCKET_ROWS) return undefined;
    for (let r = 1; r < p; r++) a.xtx[r * p + r] = a.xtx[r * p + r]! + LAMBDA;
    const A = new Matrix(Array.from({ length: p }, (_, r) => Array.from(a.xtx.subarray(r * p, r * p + p))));
    const beta = solve(A, Matrix.columnVector(Array.from(a.xty))).getColumn(0);
    const residuals = a.rows.map(([x, y]) => Math.exp(y - dot(beta, x)) - 1);
    return { beta, band: { low: quantile(residuals, BAND.low), high: quantile(residuals, BAND.high) } };
  });
  if (!buckets[0]) return undefined;
  return { scale, rows: acc[0]!.rows.length, buckets, range: { min: Math.min(...values), max: Math.max(...values) } };
}

/**
 * Predicts the hours [from, from + horizon) of `h` from the values before `from` (a bucket without its own fit
 * uses the nearest shorter one's coefficients). Hours without features (a long gap) are skipped.
 */
export function predictDirect(h: History, model: DirectModel, from: number, horizon: number): ForecastPoint[] {
  const z = logScaled(h.y, from, model.scale);
  const out: ForecastPoint[] = [];
  for (let k = 0; k < horizon; k++) {
    const x = directFeatures(z, from, k);
    if (!x) continue;
    let b = bucketOf(k);
    while (b > 0 && !model.buckets[b]) b--;
    const fit = model.buckets[b]!;
    const value = Math.min(model.range.max, Math.max(model.range.min, model.scale * Math.exp(dot(fit.beta, x))));
    const ts = h.ts[from + k] ?? new Date(h.ts[0]!.getTime() + (from + k) * HOUR_MS);
    out.push({ ts, value, low: value * (1 + fit.band.low), high: value * (1 + fit.band.high) });
  }
  return out;
}

/* ---------- One entry point per target ---------- */

export interface TargetRun { points: ForecastPoint[]; trainRows: number }

/**
 * Forecasts `target` for the hours [from, from + horizon) of `h`, trained on [trainStart, from) with the
 * target's model; DF (demand only) is known before `dfKnownUntil`. `undefined` under two weeks of usable history.
 */
export function forecastTarget(target: ForecastTarget, h: History, calendar: readonly Calendar[], opts: { trainStart: number; from: number; horizon: number; dfKnownUntil?: number }): TargetRun | undefined {
  if (target === 'intensity') {
    const model = fitDirect(h, opts.trainStart, opts.from, opts.horizon);
    return model && { points: predictDirect(h, model, opts.from, opts.horizon), trainRows: model.rows };
  }
  const models = fitModels(h, calendar, opts.trainStart, opts.from);
  return models && { points: predictAhead(h, calendar, models, opts.from, opts.horizon, opts.dfKnownUntil ?? opts.from), trainRows: models.base.rows };
}

export interface BacktestResult {
  days: number; hours: number;
  mapePct: {
    model: number | null; naiveDay: number | null; naiveWeek: number | null;
    /** the first 24 hours where EIA's DF exists: EIA's own error, and the model's on the same hours */
    eiaDayAhead: number | null; modelDayAhead: number | null;
  };
}

/**
 * Rolling-origin backtest on the last `testDays` complete local days that have `horizon` hours of data after
 * their local midnight: for each, fit on the `trainDays` before it, forecast `horizon` hours from local midnight
 * and compare, on the hours where all three have a value, with seasonal naive: the same hour of the last
 * observed day (t − 24 h for the first day ahead, t − 48 h for the second) and the same hour a week earlier.
 * EIA's DF is known for the first 24 hours (it is published the day before); its own MAPE and the model's are
 * reported on those hours (the fair comparison: both forecasts for the same day-ahead hours).
 */
export function backtest(h: History, timeZone: string, opts: { target: ForecastTarget; testDays: number; trainDays: number; horizon?: number }): BacktestResult {
  const horizon = opts.horizon ?? 48;
  const calendar = calendarFor(h.ts, timeZone);
  const t0 = h.ts[0]!.getTime();
  const lastDate = new Date(h.ts.at(-1)!.getTime() - horizon * HOUR_MS).toISOString().slice(0, 10);
  const origins: number[] = [];
  for (let d = 0; origins.length < opts.testDays && d < 3660; d++) {
    const date = new Date(Date.parse(`${lastDate}T00:00:00Z`) - d * 86_400_000).toISOString().slice(0, 10);
    const i = Math.round((localMidnight(date, timeZone).getTime() - t0) / HOUR_MS);
    if (i - MIN_HISTORY_HOURS < 0) break;
    if (i + horizon <= h.ts.length) origins.unshift(i);
  }
  const ape = { model: [] as number[], naiveDay: [] as number[], naiveWeek: [] as number[], eiaDayAhead: [] as number[], modelDayAhead: [] as number[] };
  let days = 0;
  for (const from of origins) {
    const run = forecastTarget(opts.target, h, calendar, { trainStart: from - opts.trainDays * 24, from, horizon, dfKnownUntil: from + 24 });
    if (!run) continue;
    days++;
    for (const p of run.points) {
      const i = Math.round((p.ts.getTime() - t0) / HOUR_MS);
      const k = i - from;
      const actual = h.y[i];
      const naiveDay = h.y[i - lastDayLag(k)];
      const naiveWeek = h.y[i - 168];
      if (!usable(actual) || !usable(naiveDay) || !usable(naiveWeek)) continue;
      ape.model.push(Math.abs(p.value - actual) / actual);
      ape.naiveDay.push(Math.abs(naiveDay - actual) / actual);
      ape.naiveWeek.push(Math.abs(naiveWeek - actual) / actual);
      const df = h.df?.[i];
      if (k < 24 && usable(df)) {
        ape.eiaDayAhead.push(Math.abs(df - actual) / actual);
        ape.modelDayAhead.push(Math.abs(p.value - actual) / actual);
      }
    }
  }
  return {
    days, hours: ape.model.length,
    mapePct: {
      model: mapePct(ape.model), naiveDay: mapePct(ape.naiveDay), naiveWeek: mapePct(ape.naiveWeek),
      eiaDayAhead: mapePct(ape.eiaDayAhead), modelDayAhead: mapePct(ape.modelDayAhead),
    },
  };
}
