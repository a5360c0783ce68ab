import { HOUR_MS } from '../shared/hourly.ts';
import { fitModels, MODEL_NAMES, predictAhead, quantile, BAND, type Calendar, type ForecastPoint, type ForecastTarget, type History } from './forecast-model.ts';
import { fitDirect, predictDirect } from './direct-model.ts';
import { ACCURACY_LEADS, lastDayLag, leadBucket, naiveAt, NAIVE_METHODS, NAIVE_NAMES, usable, type NaiveMethod } from './scoring.ts';

/** What may serve a lead bucket: the target's model or one of the seasonal-naive references. */
export const SERVED_METHODS = ['model', ...NAIVE_METHODS] as const;
export type ServedMethod = typeof SERVED_METHODS[number];

/**
 * Which method serves each lead bucket (ACCURACY_LEADS: 1-6, 7-24, 25-48 h; longer leads follow the last) of the
 * intensity forecast. The model wherever it beat both seasonal-naive references in the real-data backtests
 * (PJM's own fuel mix, January-June 2025; PACW's EIA-930 fuel mix, January-February 2024: bench/RESULTS.md, and
 * the CI test that reruns the PJM one); a bucket where it did not would name the better naive reference here, and
 * the endpoint would serve and name it. A per-forecast choice from the week before each forecast was tried and
 * lost to the model alone on both BAs (a week's ranking does not carry over to the next), so the choice is made
 * from months of backtest, not per forecast.
 */
export const INTENSITY_SERVED_BY_LEAD: readonly ServedMethod[] = ['model', 'model', 'model'];

/** The serving rule in words (OpenAPI, methodology). */
export const FALLBACK_RULE = 'Each lead-time bucket (1-6, 7-24, 25-48 h) of the intensity forecast is served by the model where it beat both '
  + 'seasonal-naive references (the same hour of the last observed day, the same hour a week earlier) in the real-data backtests, and by the better '
  + `reference where it did not (now: ${ACCURACY_LEADS.map((l, b) => `${l.lead} ${INTENSITY_SERVED_BY_LEAD[b] === 'model' ? 'model' : NAIVE_NAMES[INTENSITY_SERVED_BY_LEAD[b] as NaiveMethod]}`).join(', ')}); `
  + 'every hour names its method.';

export interface LeadChoice {
  /** per ACCURACY_LEADS bucket: the method that served it (leads past the last bucket use the last bucket's) */
  methods: readonly ServedMethod[];
}

/** Relative errors (actual − reference) / reference of a naive reference `lag` hours back over the hours [start, end). */
function naiveBand(y: History['y'], lag: number, start: number, end: number): { low: number; high: number } {
  const residuals: number[] = [];
  for (let j = Math.max(lag, start); j < end; j++) {
    const [a, r] = [y[j], y[j - lag]];
    if (usable(a) && usable(r)) residuals.push((a - r) / r);
  }
  return { low: quantile(residuals, BAND.low), high: quantile(residuals, BAND.high) };
}

/**
 * The served forecast: each point of the model's forecast made at `from`, or, in a lead bucket `choice` gives to a
 * seasonal-naive reference, that reference's value with a band from its own relative errors over the training
 * hours [trainStart, from). Every point names its method (the model's name or NAIVE_NAMES). A naive reference
 * that is missing for an hour leaves the model's value there (and names the model).
 */
export function serve(target: ForecastTarget, h: History, trainStart: number, from: number, points: readonly ForecastPoint[], choice: LeadChoice): ForecastPoint[] {
  const t0 = h.ts[0]!.getTime();
  const bands = new Map<number, { low: number; high: number }>();
  return points.map((p) => {
    const i = Math.round((p.ts.getTime() - t0) / HOUR_MS);
    const lead = i - from + 1;
    const bucket = leadBucket(lead);
    const method = choice.methods[bucket < 0 ? ACCURACY_LEADS.length - 1 : bucket] ?? 'model';
    const value = method === 'model' ? null : naiveAt(h.y, i, lead)[method];
    if (method === 'model' || value === null) return { ...p, method: MODEL_NAMES[target] };
    const lag = method === 'naiveDay' ? lastDayLag(lead - 1) : 168;
    let band = bands.get(lag);
    if (!band) bands.set(lag, (band = naiveBand(h.y, lag, trainStart, from)));
    return { ts: p.ts, value, low: value * (1 + Math.min(0, band.low)), high: value * (1 + Math.max(0, band.high)), method: NAIVE_NAMES[method] };
  });
}

export interface TargetRun {
  /** what is served and stored: the model, or seasonal naive in the lead buckets where it validated better */
  points: ForecastPoint[];
  /** the model's own forecast of the same hours (the backtest scores both) */
  modelPoints: ForecastPoint[];
  trainRows: number;
  choice: LeadChoice;
}

/**
 * Forecasts `target` for the hours [from, from + horizon) of `h`, trained on [trainStart, from) with the
 * target's model; DF (demand only) is known before `dfKnownUntil`. Intensity is served lead bucket by lead bucket as
 * `servedByLead` says (default INTENSITY_SERVED_BY_LEAD; the backtest passes others to compare policies); demand
 * by its model (it beats naive in every backtest, with EIA's day-ahead forecast as a feature). `undefined` under
 * two weeks of usable history.
 */
export function forecastTarget(target: ForecastTarget, h: History, calendar: readonly Calendar[], opts: { trainStart: number; from: number; horizon: number; dfKnownUntil?: number; servedByLead?: readonly ServedMethod[] }): TargetRun | undefined {
  if (target === 'intensity') {
    const model = fitDirect(h, opts.trainStart, opts.from, opts.horizon);
    if (!model) return undefined;
    const modelPoints = predictDirect(h, model, opts.from, opts.horizon);
    const choice = { methods: opts.servedByLead ?? INTENSITY_SERVED_BY_LEAD };
    return { points: serve(target, h, opts.trainStart, opts.from, modelPoints, choice), modelPoints, trainRows: model.rows, choice };
  }
  const models = fitModels(h, calendar, opts.trainStart, opts.from);
  if (!models) return undefined;
  const modelPoints = predictAhead(h, calendar, models, opts.from, opts.horizon, opts.dfKnownUntil ?? opts.from);
  return { points: modelPoints.map((p) => ({ ...p, method: MODEL_NAMES.demand })), modelPoints, trainRows: models.base.rows, choice: { methods: ACCURACY_LEADS.map(() => 'model') } };
}
