import { localMidnight } from '../../grid/local-day.ts';
import { HOUR_MS } from '../shared/hourly.ts';
import { calendarFor, type ForecastTarget, type History } from './forecast-model.ts';
import { MIN_HISTORY_HOURS } from './direct-model.ts';
import { ACCURACY_LEADS, LeadScorer, mapePct, naiveAt, usable, type LeadCell } from './scoring.ts';
import { forecastTarget, SERVED_METHODS, type ServedMethod } from './target-run.ts';

/**
 * Scored side by side on the same hours: `served` (what the forecast endpoint serves: the model, or seasonal
 * naive in the lead buckets where the model's validation falls back), `model` (the model alone) and both
 * seasonal-naive references.
 */
export const BACKTEST_METHODS = ['served', 'model', 'naiveDay', 'naiveWeek'] as const;
export type BacktestMethod = typeof BACKTEST_METHODS[number];

export interface BacktestResult {
  days: number; hours: number;
  /** forecast origins run (days × origin hours, less those without two weeks of history) */
  origins: number;
  mapePct: Record<BacktestMethod, number | null> & {
    /** the first 24 hours where EIA's DF exists: EIA's own error, and the served forecast's on the same hours */
    eiaDayAhead: number | null; modelDayAhead: number | null;
  };
  /** MAPE by lead time (1-6, 7-24, 25-48 h), scored as the accuracy report scores stored forecasts, and how many origins each method served */
  byLead: Array<LeadCell<BacktestMethod> & { lead: string; servedBy: Record<ServedMethod, number> }>;
}

/**
 * Rolling-origin backtest on the last `testDays` complete local days that have `horizon` hours of data after
 * their last origin: for each day, at each of `originHours` (local hours; default midnight only), fit on the
 * `trainDays` before the origin, forecast `horizon` hours and compare, on the hours where all have a value, with
 * seasonal naive: the same hour of the last observed day (t − 24 h for the first day ahead, t − 48 h for the
 * second) and the same hour a week earlier. Scored by lead time with the accuracy report's LeadScorer; `served` is
 * what the endpoint would serve under `servedByLead` (default INTENSITY_SERVED_BY_LEAD), `model` the model alone.
 * EIA's DF is known for the first 24 hours (it is published the day before); its own MAPE and the served
 * forecast's are reported on those hours (the fair comparison: both forecasts for the same day-ahead hours).
 */
export function backtest(h: History, timeZone: string, opts: { target: ForecastTarget; testDays: number; trainDays: number; horizon?: number; originHours?: readonly number[] | undefined; servedByLead?: readonly ServedMethod[] }): BacktestResult {
  const horizon = opts.horizon ?? 48;
  const originHours = opts.originHours ?? [0];
  const calendar = calendarFor(h.ts, timeZone);
  const t0 = h.ts[0]!.getTime();
  const lastDate = new Date(h.ts.at(-1)!.getTime() - horizon * HOUR_MS).toISOString().slice(0, 10);
  const days: number[][] = [];
  for (let d = 0; days.length < opts.testDays && d < 3660; d++) {
    const date = new Date(Date.parse(`${lastDate}T00:00:00Z`) - d * 86_400_000).toISOString().slice(0, 10);
    const midnight = Math.round((localMidnight(date, timeZone).getTime() - t0) / HOUR_MS);
    if (midnight - MIN_HISTORY_HOURS < 0) break;
    const day = originHours.map((o) => midnight + o);
    if (day.every((i) => i + horizon <= h.ts.length)) days.unshift(day);
  }
  const scorer = new LeadScorer(BACKTEST_METHODS);
  const servedBy = ACCURACY_LEADS.map(() => Object.fromEntries(SERVED_METHODS.map((m) => [m, 0])) as Record<ServedMethod, number>);
  const dayAhead = { eia: [] as number[], model: [] as number[] };
  const counted = new Set<number>();
  let origins = 0;
  for (const [d, day] of days.entries()) {
    for (const from of day) {
      const run = forecastTarget(opts.target, h, calendar, { trainStart: from - opts.trainDays * 24, from, horizon, dfKnownUntil: from + 24, ...(opts.servedByLead ? { servedByLead: opts.servedByLead } : {}) });
      if (!run) continue;
      counted.add(d);
      origins++;
      run.choice.methods.forEach((m, b) => { servedBy[b]![m]++; });
      const model = new Map(run.modelPoints.map((p) => [p.ts.getTime(), p.value]));
      for (const p of run.points) {
        const i = Math.round((p.ts.getTime() - t0) / HOUR_MS);
        const lead = i - from + 1;
        const actual = h.y[i];
        if (!scorer.add(lead, actual, { served: p.value, model: model.get(p.ts.getTime()), ...naiveAt(h.y, i, lead) })) continue;
        const df = h.df?.[i];
        if (lead <= 24 && usable(df)) {
          dayAhead.eia.push(Math.abs(df - actual!) / actual!);
          dayAhead.model.push(Math.abs(p.value - actual!) / actual!);
        }
      }
    }
  }
  const scores = scorer.result();
  return {
    days: counted.size, hours: scores.all.hours, origins,
    mapePct: { ...scores.all.mapePct, eiaDayAhead: mapePct(dayAhead.eia), modelDayAhead: mapePct(dayAhead.model) },
    byLead: scores.byLead.map((c, b) => ({ ...c, servedBy: servedBy[b]! })),
  };
}
