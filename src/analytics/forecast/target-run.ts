import { HOUR_MS } from '../shared/hourly.ts';
import { fitModels, MODEL_NAMES, predictAhead, quantile, BAND, type Calendar, type ForecastPoint, type ForecastTarget, type History } from './forecast-model.ts';
import { fitDirect, predictDirect } from './direct-model.ts';
import { ACCURACY_LEADS, LeadScorer, leadBucket, naiveAt, NAIVE_METHODS, NAIVE_NAMES, type NaiveMethod } from './scoring.ts';

/** What may serve a lead bucket: the target's model or one of the seasonal-naive references. */
export const SERVED_METHODS = ['model', ...NAIVE_METHODS] as const;
export type ServedMethod = typeof SERVED_METHODS[number];

/** Days before the forecast origin the intensity model is validated on, against seasonal naive, lead bucket by lead bucket. */
export const VALIDATION_DAYS = 7;
/** Hours between validation origins (forecasts are made every hour; every sixth covers each hour of the day and costs a sixth). */
const VALIDATION_STEP_HOURS = 6;
const VALIDATION_HORIZON = 48;

export interface LeadChoice {
  /** per ACCURACY_LEADS bucket: the method that served it (leads past the last bucket use the last bucket's) */
  methods: ServedMethod[];
  /** per bucket: the relative residual band of each naive method on the validation hours */
  naiveBands: Array<Record<NaiveMethod, { low: number; high: number }>>;
  /** validation MAPE per bucket and method; null when the history was too short to validate (the model serves) */
  mapePct: Array<Record<ServedMethod, number | null>> | null;
}

const modelEverywhere = (): LeadChoice => ({ methods: ACCURACY_LEADS.map(() => 'model'), naiveBands: [], mapePct: null });

/**
 * Chooses, for each lead bucket, the method to serve: the intensity model is fitted on [trainStart, from − 7 days),
 * forecasts 48 h from every sixth hour of the 7 days before `from` (only hours before `from` are scored, so
 * nothing after the origin is used), and is scored with the accuracy report's LeadScorer beside both seasonal-naive
 * references on the same hours. A bucket where a naive reference has the lower MAPE is served by it; ties keep
 * the model. Too little history to validate: the model serves every bucket.
 */
export function chooseByLead(h: History, calendar: readonly Calendar[], trainStart: number, from: number): LeadChoice {
  const validateFrom = from - VALIDATION_DAYS * 24;
  const model = fitDirect(h, calendar, trainStart, validateFrom, VALIDATION_HORIZON);
  if (!model) return modelEverywhere();
  const scorer = new LeadScorer(SERVED_METHODS);
  const residuals = ACCURACY_LEADS.map(() => ({ naiveDay: [] as number[], naiveWeek: [] as number[] }));
  const t0 = h.ts[0]!.getTime();
  for (let o = validateFrom; o + VALIDATION_HORIZON <= from; o += VALIDATION_STEP_HOURS) {
    for (const p of predictDirect(h, calendar, model, o, VALIDATION_HORIZON)) {
      const i = Math.round((p.ts.getTime() - t0) / HOUR_MS);
      const lead = i - o + 1;
      const naive = naiveAt(h.y, i, lead);
      if (!scorer.add(lead, h.y[i], { model: p.value, ...naive })) continue;
      for (const m of NAIVE_METHODS) residuals[leadBucket(lead)]![m].push((h.y[i]! - naive[m]!) / naive[m]!);
    }
  }
  const scores = scorer.result().byLead;
  if (scores.every((c) => c.hours === 0)) return modelEverywhere();
  const methods = scores.map((c) => SERVED_METHODS.reduce<ServedMethod>((best, m) => {
    const v = c.mapePct[m];
    const b = c.mapePct[best];
    return v !== null && (b === null || v < b) ? m : best;
  }, 'model'));
  const band = (xs: number[]) => ({ low: quantile(xs, BAND.low), high: quantile(xs, BAND.high) });
  return {
    methods,
    naiveBands: residuals.map((r) => ({ naiveDay: band(r.naiveDay), naiveWeek: band(r.naiveWeek) })),
    mapePct: scores.map((c) => c.mapePct),
  };
}

/**
 * The served forecast: each point of the model's forecast made at `from`, or, in a lead bucket the choice gives to
 * a seasonal-naive reference, that reference's value with its validation band. Every point names its method
 * (the model's name or NAIVE_NAMES). A naive reference that is missing for an hour leaves the model's value there.
 */
export function serve(target: ForecastTarget, h: History, from: number, points: readonly ForecastPoint[], choice: LeadChoice): ForecastPoint[] {
  const t0 = h.ts[0]!.getTime();
  return points.map((p) => {
    const i = Math.round((p.ts.getTime() - t0) / HOUR_MS);
    const lead = i - from + 1;
    const bucket = leadBucket(lead);
    const b = bucket < 0 ? ACCURACY_LEADS.length - 1 : bucket;
    const method = choice.methods[b] ?? 'model';
    if (method === 'model') return { ...p, method: MODEL_NAMES[target] };
    const value = naiveAt(h.y, i, lead)[method];
    if (value === null) return { ...p, method: MODEL_NAMES[target] };
    const band = choice.naiveBands[b]![method];
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
 * target's model; DF (demand only) is known before `dfKnownUntil`. Intensity falls back to seasonal naive in the
 * lead buckets where its validation says so (chooseByLead); demand is served by its model (it beats naive in
 * every backtest, with EIA's day-ahead forecast as a feature). `undefined` under two weeks of usable history.
 */
export function forecastTarget(target: ForecastTarget, h: History, calendar: readonly Calendar[], opts: { trainStart: number; from: number; horizon: number; dfKnownUntil?: number }): TargetRun | undefined {
  if (target === 'intensity') {
    const model = fitDirect(h, calendar, opts.trainStart, opts.from, opts.horizon);
    if (!model) return undefined;
    const modelPoints = predictDirect(h, calendar, model, opts.from, opts.horizon);
    const choice = chooseByLead(h, calendar, opts.trainStart, opts.from);
    return { points: serve(target, h, opts.from, modelPoints, choice), modelPoints, trainRows: model.rows, choice };
  }
  const models = fitModels(h, calendar, opts.trainStart, opts.from);
  if (!models) return undefined;
  const modelPoints = predictAhead(h, calendar, models, opts.from, opts.horizon, opts.dfKnownUntil ?? opts.from);
  return { points: modelPoints.map((p) => ({ ...p, method: MODEL_NAMES.demand })), modelPoints, trainRows: models.base.rows, choice: modelEverywhere() };
}
