import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { queryInt } from '../../platform/query.ts';
import type { Logger } from 'pino';
import type { Db } from '../../platform/db.ts';
import type { Cache } from '../../platform/cache.ts';
import { HttpProblem } from '../../platform/problem.ts';
import { analyticsKey, dataTtlSeconds } from '../shared/analytics-cache.ts';
import { baFreshness, FRESHNESS_STATUSES, SCHEDULE_SLACK_MINUTES } from '../shared/freshness.ts';
import { dailyBaseline, dailyPulse, type DailyOptions } from './pulse.ts';
import { BASELINE_METRICS } from './baseline.ts';
import { duckCurve, DUCK_DEFINITION } from './duck.ts';
import { isCalendarDate } from '../../grid/local-day.ts';
import { ACCURACY_LEADS, forecastAccuracy, latestForecast } from '../forecast/forecast.ts';
import { MODEL_DEFINITIONS } from '../forecast/forecast-model.ts';
import { NAIVE_NAMES } from '../forecast/scoring.ts';
import { FALLBACK_RULE } from '../forecast/target-run.ts';
import { HOUR_MS } from '../shared/hourly.ts';
import { codeParams, envelope, isoInstant, nullableNumber, rangeOf, routeAnswer, sendCsv, toCsv, unknownBa } from '../shared/route-support.ts';
import { METHODOLOGY } from '../shared/methodology.ts';

export interface DailyDeps { db: Db; cache: Cache; logger: Logger }

const dayQuery = z.object({
  date: z.string().refine(isCalendarDate, 'a calendar date YYYY-MM-DD (BA-local day)').optional()
    .describe('BA-local calendar day; default the latest complete local day'),
  basis: z.enum(['production', 'consumption']).default('production')
    .describe('intensity basis: production (the BA\'s own generation) or consumption (imports traced through the interchange)'),
});
const DAY_MS = 86_400_000;
const MAX_DUCK_DAYS = 366;
/** Past days only change through EIA revisions (change events invalidate them); the current days follow the data. */
const dayTtl = (date: string) => (v: { dataThrough: string | null }) => dataTtlSeconds({ dataThrough: v.dataThrough, to: new Date(Date.parse(`${date}T00:00:00Z`) + 2 * DAY_MS) });

const comparison = z.object({
  value: z.number().describe('comparison value (mean of the usable prior weeks, or last year\'s day)'),
  diff: z.number().describe('value − comparison, in the metric\'s unit'),
  pct: nullableNumber.describe('diff / |comparison| × 100; null when the comparison is 0'),
  days: z.array(z.string()).describe('local dates that entered the comparison'),
}).nullable();
const baselineMetric = z.object({
  metric: z.enum(BASELINE_METRICS.map((m) => m.metric) as [string, ...string[]]),
  unit: z.string(), definition: z.string(), value: nullableNumber,
  priorWeeks: comparison, lastYear: comparison,
  reasons: z.object({ value: z.string().nullable(), priorWeeks: z.string().nullable(), lastYear: z.string().nullable() })
    .describe('why the day\'s value (the same figure and reason as in its Daily Pulse) or a comparison is null'),
});
const BASELINE_DESCRIPTION = 'Each metric of the BA-local day against (a) the mean of the same weekday in the four weeks before and (b) the same '
  + 'local date a year earlier (29 Feb → 28 Feb). Metrics: ' + BASELINE_METRICS.map((m) => `${m.metric} (${m.unit}): ${m.definition}`).join('; ')
  + '. Each value is the figure of the day exactly as its Daily Pulse gives it: sums (demandEnergy, netInterchange) need every hour of the '
  + 'local day, the others all but a quarter; missing data is never counted as zero nor a partial sum given as the day\'s: the value or '
  + 'comparison is null and `reasons` says why.';
const atValue = z.object({ ts: z.string(), value: z.number() }).nullable();

/** Daily Pulse, baselines, duck curve, forecasts and freshness under /api/v1/bas/{code}/…, cached per BA. */
export async function dailyRoutes(app: FastifyInstance, deps: DailyDeps): Promise<void> {
  const { db, cache } = deps;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const answer = routeAnswer(cache);
  /** Pulse and baseline: one BA-local day (the latest complete one when no date is asked), cached per day and basis. */
  const dayAnswer = <T extends { dataThrough: string | null }>(
    req: FastifyRequest<{ Params: z.infer<typeof codeParams>; Querystring: z.infer<typeof dayQuery> }>, kind: string,
    load: (db: Db, code: string, opts: DailyOptions) => Promise<T | undefined>) => {
    const ba = req.params.code.toUpperCase();
    const { date, basis } = req.query;
    return answer(req, analyticsKey(ba, kind, date ?? 'latest', basis), date ? dayTtl(date) : 300, async () => {
      const v = await load(db, ba, { date, basis });
      if (!v) throw unknownBa(req.params.code);
      return v;
    });
  };

  r.get('/api/v1/bas/:code/pulse', {
    config: { access: { public: true } },
    schema: {
      summary: 'Daily Pulse: one BA-local calendar day in figures, with its baseline comparison',
      description: 'The day is the BA\'s local calendar day in its IANA time zone (23, 24 or 25 hours: `hours`). Hours with no value are counted '
        + 'in `missingHours` per input and never filled in. Sums (energyMwh, netInterchangeMwh, each fuel\'s mwh) need every hour of the day '
        + 'and are null otherwise; extremes, shares, averages and the forecast error need all but a quarter of the hours; `reasons` says, per '
        + 'figure path, why a figure is null (e.g. "demand missing for 23 of 24 hours"). missingHours.fuels: hours in which some fuel of the mix '
        + '(every fuel series the store expects that day, so one published late counts) has no value. demand: peak and minimum hourly demand (MW, hour start UTC) and energy '
        + '(MWh = Σ hourly MW). forecast: EIA\'s day-ahead forecast (DF) against demand (D) over hours with both: '
        + 'mapePct = mean(|DF − D| / D) × 100, biasPct = Σ(DF − D) / Σ D × 100 (positive = over-forecast). mix: MWh per fuel (positive '
        + 'hourly values only) and share of all positive generation (fraction 0–1, storage discharge included); renewableShare and '
        + 'carbonFreeShare: fractions. intensity (gCO2eq/kWh, lifecycle factors, `basis` as asked): avg = mean of the hourly values, '
        + 'cleanest / dirtiest = lowest / highest hour. netInterchangeMwh: Σ total interchange (positive = net export). baseline: as '
        + `GET /bas/{code}/baseline. ${METHODOLOGY.envelope}`,
      params: codeParams,
      querystring: dayQuery,
      response: {
        200: z.object({
          ...envelope, date: z.string(), timeZone: z.string(), hours: z.number().describe('hours in the local day: 23, 24 or 25'),
          basis: z.enum(['production', 'consumption']),
          missingHours: z.object({ demand: z.number(), forecast: z.number(), fuels: z.number(), intensity: z.number(), interchange: z.number() }),
          demand: z.object({ peakMw: nullableNumber, peakAt: z.string().nullable(), minMw: nullableNumber, minAt: z.string().nullable(), energyMwh: nullableNumber }),
          forecast: z.object({ mapePct: nullableNumber, biasPct: nullableNumber, hoursCompared: z.number() }),
          mix: z.array(z.object({ fuel: z.string(), name: z.string(), mwh: nullableNumber.describe('null when the fuel misses an hour of the day'), share: nullableNumber })),
          renewableShare: nullableNumber, carbonFreeShare: nullableNumber,
          intensity: z.object({ avg: nullableNumber, cleanest: atValue, dirtiest: atValue, unit: z.string() }),
          netInterchangeMwh: nullableNumber,
          reasons: z.record(z.string(), z.string()).describe('figure path (demand.energyMwh, demand.peakMw, demand.minMw, forecast.mapePct, renewableShare, mix.share, intensity.avg, netInterchangeMwh) → why it is null'),
          baseline: z.array(baselineMetric),
        }),
      },
    },
  }, async (req) => dayAnswer(req, 'pulse', dailyPulse));

  r.get('/api/v1/bas/:code/baseline', {
    config: { access: { public: true } },
    schema: {
      summary: 'A BA-local day against the same weekday of the four weeks before and the same date a year earlier',
      description: `${BASELINE_DESCRIPTION} ${METHODOLOGY.envelope}`,
      params: codeParams,
      querystring: dayQuery,
      response: { 200: z.object({ ...envelope, date: z.string(), timeZone: z.string(), basis: z.enum(['production', 'consumption']), metrics: z.array(baselineMetric) }) },
    },
  }, async (req) => dayAnswer(req, 'baseline', dailyBaseline));

  r.get('/api/v1/bas/:code/duck', {
    config: { access: { public: true } },
    schema: {
      summary: 'Duck curve: hourly net load and a daily belly-versus-evening-ramp score, with its trend; JSON or CSV (hours)',
      description: `${DUCK_DEFINITION} \`hours\` covers [from, to) (default the last 7 days, at most ${MAX_DUCK_DAYS}); \`days\` every BA-local day `
        + `the range touches, computed over the whole local day. format=csv gives one row per hour. ${METHODOLOGY.envelope}`,
      params: codeParams,
      querystring: z.object({ from: isoInstant.optional(), to: isoInstant.optional(), format: z.enum(['json', 'csv']).default('json') }),
      response: {
        200: z.object({
          ...envelope, timeZone: z.string(),
          days: z.array(z.object({
            date: z.string(), score: nullableNumber.describe('(eveningPeakMw − bellyMw) / eveningPeakMw, dimensionless'),
            bellyMw: nullableNumber, bellyAt: z.string().nullable(), eveningPeakMw: nullableNumber, eveningPeakAt: z.string().nullable(),
            rampMw: nullableNumber.describe('eveningPeakMw − bellyMw, MW'),
          })),
          hours: z.array(z.object({ ts: z.string(), demandMw: nullableNumber, solarMw: nullableNumber, windMw: nullableNumber, netLoadMw: nullableNumber })),
          trend: z.object({ slopePerDay: nullableNumber.describe('score units per day'), days: z.number().describe('days with a score') }),
        }),
      },
    },
  }, async (req, reply) => {
    const ba = req.params.code.toUpperCase();
    const range = rangeOf(req.query, MAX_DUCK_DAYS, 7 * 24);
    const body = await answer(req, analyticsKey(ba, 'duck', range.from.toISOString(), range.to.toISOString()), (v) => dataTtlSeconds({ dataThrough: v.dataThrough, to: range.to }), async () => {
      const d = await duckCurve(db, ba, range.from, range.to);
      if (!d) throw unknownBa(req.params.code);
      return d;
    });
    if (req.query.format === 'csv') {
      return sendCsv(reply, `${ba}-duck`, toCsv(['ts', 'demand_mw', 'solar_mw', 'wind_mw', 'net_load_mw'], body.hours.map((h) => [h.ts, h.demandMw, h.solarMw, h.windMw, h.netLoadMw])));
    }
    return body;
  });

  r.get('/api/v1/bas/:code/forecast', {
    config: { access: { public: true } },
    schema: {
      summary: 'Demand and carbon intensity forecast for the next hours (default 48); JSON or CSV',
      description: `The newest stored forecasts (made by the worker, hourly by default), for the hours from now on. ${MODEL_DEFINITIONS.demand} ${MODEL_DEFINITIONS.intensity} `
        + 'demandMw: MW; intensity: consumption-based carbon intensity, lifecycle factors, gCO2eq/kWh; *Low/*High: the band. '
        + 'madeAt: when the newer of the two forecasts was made; dataThrough: the older of their newest observed hours. '
        + `${FALLBACK_RULE} `
        + `404 when no forecast is stored yet. format=csv gives one row per hour. ${METHODOLOGY.envelope}`,
      params: codeParams,
      querystring: z.object({ hours: queryInt(1, 168).default(48), format: z.enum(['json', 'csv']).default('json') }),
      response: {
        200: z.object({
          ...envelope, madeAt: z.string(), models: z.object({ demand: z.string().nullable(), intensity: z.string().nullable() }),
          points: z.array(z.object({
            ts: z.string(), demandMw: nullableNumber, demandLow: nullableNumber, demandHigh: nullableNumber,
            intensity: nullableNumber, intensityLow: nullableNumber, intensityHigh: nullableNumber,
            demandMethod: z.string().nullable().describe('what made demandMw: the demand model\'s name'),
            intensityMethod: z.string().nullable().describe(`what made intensity: the intensity model's name, or ${Object.values(NAIVE_NAMES).join(' / ')} `
              + 'for lead times where seasonal naive validated better than the model on the week before the forecast and serves instead'),
          })),
        }),
      },
    },
  }, async (req, reply) => {
    const ba = req.params.code.toUpperCase();
    const { hours, format } = req.query;
    const from = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const body = await answer(req, analyticsKey(ba, 'forecast', hours, from), 600, async () => {
      const f = await latestForecast(db, ba);
      if (!f) throw unknownBa(req.params.code);
      if (!f.madeAt) throw new HttpProblem(404, `no forecast stored for ${ba} yet (the worker makes them on a schedule)`);
      const until = new Date(from + hours * HOUR_MS).toISOString();
      const start = new Date(from).toISOString();
      return { ...f, madeAt: f.madeAt, generatedAt: new Date().toISOString(), points: f.points.filter((p) => p.ts >= start && p.ts < until) };
    });
    if (format === 'csv') {
      return sendCsv(reply, `${ba}-forecast`, toCsv(['ts', 'demand_mw', 'demand_low_mw', 'demand_high_mw', 'intensity_gco2eq_per_kwh', 'intensity_low', 'intensity_high', 'intensity_method'],
        body.points.map((p) => [p.ts, p.demandMw, p.demandLow, p.demandHigh, p.intensity, p.intensityLow, p.intensityHigh, p.intensityMethod])));
    }
    return body;
  });

  const accuracyCell = {
    hours: z.number().int().describe('forecast hours scored (a forecast hour counts once per run that forecast it)'),
    mapePct: nullableNumber.describe('mean absolute percentage error of the stored forecasts, %'),
    naiveMapePct: nullableNumber.describe('the same for seasonal naive on the same hours: the same hour of the last day observed when each forecast was made'),
    naiveWeekMapePct: nullableNumber.describe('the same for seasonal naive on the same hours: the same hour a week earlier'),
  };
  const targetAccuracy = z.object({
    runs: z.number().int().describe('forecast runs made in the window'),
    all: z.object(accuracyCell),
    byLead: z.array(z.object({ lead: z.string().describe('hours after the data the forecast was made from'), ...accuracyCell })),
  });
  r.get('/api/v1/bas/:code/forecast/accuracy', {
    config: { access: { public: true } },
    schema: {
      summary: 'How the stored forecasts did: MAPE by lead time against what was observed, beside seasonal naive',
      description: 'Every forecast the worker stored in the last `days` days, scored on the hours observed since: mean absolute percentage error '
        + `by lead time (${ACCURACY_LEADS.map((l) => l.lead).join(', ')} after the newest hour the forecast was made from) and, on the same hours, `
        + 'seasonal naive (the same hour of the last observed day, and a week earlier), scored as `gridpulse forecast backtest` scores. Demand is scored against EIA demand; intensity against the consumption-based '
        + `lifecycle intensity it forecasts (gCO2eq/kWh). Forecast runs are kept 30 days. ${METHODOLOGY.envelope}`,
      params: codeParams,
      querystring: z.object({ days: queryInt(1, 30).default(7).describe('window of forecast runs, days back from now') }),
      response: {
        200: z.object({ ...envelope, days: z.number().int(), targets: z.object({ demand: targetAccuracy, intensity: targetAccuracy }) }),
      },
    },
  }, async (req) => {
    const ba = req.params.code.toUpperCase();
    const { days } = req.query;
    // new forecasts arrive hourly and new observations with them: an hour at most
    return answer(req, analyticsKey(ba, 'forecast-accuracy', days), 3600, async () => {
      const a = await forecastAccuracy(db, ba, days);
      if (!a) throw unknownBa(req.params.code);
      return { ...a, generatedAt: new Date().toISOString() };
    });
  });

  r.get('/api/v1/bas/:code/freshness', {
    config: { access: { public: true } },
    schema: {
      summary: 'Newest hour of every series of a BA, its lag and a fresh / late / stale status',
      description: 'newest: start (UTC) of the newest hour with a non-null value. lagMinutes: minutes from the END of that hour to now '
        + '(negative for forecasts reaching into the future). expectedLagMinutes (L): EIA-930\'s usual publishing delay for the type: '
        + 'demand 60, day-ahead forecast 0 (published the day before), net generation / total interchange / generation by fuel 1440, '
        + `BA-to-BA interchange 2880. status: fresh when lag ≤ L + ${SCHEDULE_SLACK_MINUTES} (our hourly schedule's slack), `
        + `late when lag ≤ 2·(L + ${SCHEDULE_SLACK_MINUTES}), stale beyond or without data; retired once the BA's EIA-930 retirement day has ended. dataThrough: newest observed (non-forecast) hour.`,
      params: codeParams,
      response: {
        200: z.object({
          ...envelope,
          series: z.array(z.object({
            key: z.string(), type: z.string(), subtype: z.string(), newest: z.string().nullable(),
            lagMinutes: z.number().nullable(), expectedLagMinutes: z.number(), status: z.enum(FRESHNESS_STATUSES),
          })),
        }),
      },
    },
  }, async (req) => {
    const ba = req.params.code.toUpperCase();
    // Lags move with the clock: keep the answer a minute at most.
    return answer(req, analyticsKey(ba, 'freshness'), 60, async () => {
      const f = await baFreshness(db, ba);
      if (!f) throw unknownBa(req.params.code);
      return f;
    });
  });
}
