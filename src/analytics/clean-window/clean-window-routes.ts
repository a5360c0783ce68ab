import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { queryInt } from '../../platform/query.ts';
import type { Db } from '../../platform/db.ts';
import { HttpProblem } from '../../platform/problem.ts';
import { getBa } from '../../grid/ba-repository.ts';
import { analyticsKey } from '../shared/analytics-cache.ts';
import { HOUR_MS } from '../shared/hourly.ts';
import { hourlyIntensity, INTENSITY_UNIT, type IntensityBasis } from '../intensity/intensity.ts';
import type { FactorOverride, FactorSetName } from '../intensity/factors.ts';
import { egridProvenance, factorChoice } from '../intensity/intensity-routes.ts';
import { EGRID_SET_PATTERN, resolveFactorChoice } from '../../egrid/egrid-factor-set.ts';
import { storeVersion } from '../../egrid/egrid-analytics-repository.ts';
import { baNow, generationFreshness, newestFuelHours } from '../intensity/now.ts';
import { HORIZON_HOURS, plainAnswer, USUAL_BAND, USUAL_DAYS } from './plain-answer.ts';
import { cleanWindow, endOf, formatDuration, parseDurationMinutes, type TimedPoint, type Window } from './clean-window.ts';
import { latestIntensityForecast } from './carbon-aware.ts';
import { METHODOLOGY } from '../shared/methodology.ts';
import { codeParams, envelope, isoInstant, nullableNumber, rangeOf, routeAnswer, unknownBa, iso, rangeKey } from '../shared/route-support.ts';
import { generationTtl } from '../shared/route-support.ts';
import type { CarbonDeps } from '../intensity/intensity-routes.ts';


/** Longest ranges per request: consumption-based answers trace every BA for every hour of the range. */
export const MAX_DAYS = { production: 366, consumption: 31 } as const;
const window = z.object({ start: z.string(), end: z.string(), avg: z.number().describe('time-weighted average intensity, gCO2eq/kWh') });


export async function cleanWindowRoutes(app: FastifyInstance, deps: CarbonDeps): Promise<void> {
  const { db, cache } = deps;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const answer = routeAnswer(cache);
  r.get('/api/v1/bas/:code/clean-window', {
    config: { access: { public: true } },
    schema: {
      summary: 'Cleanest time to run a job of a given duration (carbon intensity of the basis and factors asked; default consumption-based, lifecycle)',
      description: `${METHODOLOGY.cleanWindow} basis and factors as for GET /bas/{code}/intensity; the answer names both, and \`input\`: ` +
        'forecast (the newest stored intensity forecast, which is consumption-based with lifecycle factors, so used only for those) or history ' +
        '(measured hours; hours whose intensity is null, e.g. consumption-based hours whose interchange is not published yet, end a window). ' +
        'Without from/to: the forecast from now on when one exists for the basis and factors asked, else the last 48 measured hours (for reference: ' +
        'they are past, so runNow is null). ' +
        `Range up to ${MAX_DAYS.production} days for production, ${MAX_DAYS.consumption} for consumption. ${METHODOLOGY.envelope}`,
      params: codeParams,
      querystring: z.object({
        duration: z.string().default('PT1H').describe('ISO 8601 duration of the job, e.g. PT3H or PT90M (5 minutes to 3 days)'),
        from: isoInstant.optional(), to: isoInstant.optional(),
        count: queryInt(1, 24).default(3).describe('how many non-overlapping best windows'),
        basis: z.enum(['production', 'consumption']).default('consumption').describe(`production: ${METHODOLOGY.production} consumption: ${METHODOLOGY.consumption}`),
        factors: factorChoice.default('lifecycle'),
      }),
      response: {
        200: z.object({
          ...envelope, duration: z.string(), basis: z.enum(['production', 'consumption']), factors: z.string(), egrid: egridProvenance,
          input: z.enum(['forecast', 'history']).describe('what the windows were searched over: the stored forecast or measured hours'), unit: z.literal(INTENSITY_UNIT),
          optimal: z.array(window), best: z.array(window),
          runNow: window.extend({ savingsPct: nullableNumber.describe('(runNow.avg − optimal.avg) / runNow.avg × 100') }).nullable(),
        }),
      },
    },
  }, async (req) => {
    const minutes = parseDurationMinutes(req.query.duration);
    if (minutes === undefined || minutes < 5 || minutes > 3 * 1440) throw new HttpProblem(400, 'duration: an ISO 8601 duration between PT5M and P3D, e.g. PT3H', 'duration');
    const ba = req.params.code.toUpperCase();
    const explicit = req.query.from !== undefined || req.query.to !== undefined;
    const { basis, factors } = req.query;
    const range = explicit ? rangeOf(req.query, MAX_DAYS[basis]) : undefined;
    const egrid = EGRID_SET_PATTERN.test(factors);
    const key = analyticsKey(ba, 'clean-window', minutes, req.query.count, basis, factors, egrid ? await storeVersion(db) : '', range ? rangeKey(range) : 'latest');
    return answer(req, key, (v) => generationTtl(v.dataThrough, range?.to), async () => {
      if (!(await getBa(db, ba))) throw unknownBa(req.params.code);
      const set = await resolveFactorChoice(db, factors, ba);
      const input = await cleanWindowInput(db, ba, range, basis, set.base, set.overrides && { name: factors, overrides: set.overrides });
      const result = cleanWindow(input.points, { durationMinutes: minutes, from: input.from.getTime(), to: input.to.getTime(), count: req.query.count });
      const out = (w: Window) => ({ start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString(), avg: w.avg });
      return {
        ba, source: input.source, dataThrough: input.dataThrough, generatedAt: new Date().toISOString(),
        duration: formatDuration(minutes), basis, factors, egrid: set.provenance, input: input.input, unit: INTENSITY_UNIT,
        optimal: result.optimal.map(out), best: result.best.map(out),
        // measured hours searched for "latest" are all in the past: there is no "run now" to compare with
        runNow: result.runNow && !(input.input === 'history' && !explicit) ? { ...out(result.runNow), savingsPct: result.runNow.savingsPct } : null,
      };
    });
  });

  r.get('/api/v1/bas/:code/answer', {
    config: { access: { public: true } },
    schema: {
      summary: 'How clean is the power now, and when to run a job: the answer in words',
      description: 'A sentence such as "Now: 341 g/kWh, dirtier than usual for this hour. Cleanest 3 h in the next 24 h: 11:00–14:00, 38 % less than now." ' +
        `and its parts. now: the newest hour with consumption-based intensity (lifecycle factors; an hour still waiting for interchange is skipped). usual: the median ` +
        `of the same local hour over the previous ${USUAL_DAYS} days (about usual within ±${USUAL_BAND * 100} %). cleanest: the clean window of the job's ` +
        `length in the stored intensity forecast for the next ${HORIZON_HOURS} hours. Clock times are in the BA's local time (where it lies). ${METHODOLOGY.envelope}`,
      params: codeParams,
      querystring: z.object({ duration: z.string().default('PT3H').describe('ISO 8601 duration of the job (PT15M to PT12H), e.g. PT3H for a dishwasher') }),
      response: {
        200: z.object({
          ...envelope, unit: z.literal(INTENSITY_UNIT), duration: z.string(), timeZone: z.string().describe('IANA zone of the clock times in the sentence'),
          now: z.object({ hour: z.string(), value: z.number() }).nullable(),
          usual: z.object({ value: z.number(), days: z.number().describe('days with that hour measured') }).nullable(),
          comparison: z.enum(['cleaner', 'about usual', 'dirtier']).nullable(),
          cleanest: z.object({ start: z.string(), end: z.string(), avg: z.number(), savingsPct: nullableNumber }).nullable(),
          sentence: z.string(),
        }),
      },
    },
  }, async (req) => {
    const minutes = parseDurationMinutes(req.query.duration);
    if (minutes === undefined || minutes < 15 || minutes > 12 * 60) throw new HttpProblem(400, 'duration: an ISO 8601 duration between PT15M and PT12H, e.g. PT3H', 'duration');
    const code = req.params.code.toUpperCase();
    return answer(req, analyticsKey(code, 'answer', minutes), (v) => generationTtl(v.dataThrough), async () => {
      const ba = await getBa(db, code);
      if (!ba) throw unknownBa(req.params.code);
      const current = await baNow(db, code, generationFreshness);
      const c = current?.intensity.consumption ?? null;
      const now = c !== null && current?.hour ? { hour: new Date(current.hour), value: c }
        : current?.latestConsumption?.value !== null && current?.latestConsumption ? { hour: new Date(current.latestConsumption.hour), value: current.latestConsumption.value } : null;
      const [history, forecast] = now
        ? await Promise.all([hourlyIntensity(db, code, new Date(now.hour.getTime() - USUAL_DAYS * 24 * HOUR_MS), now.hour, 'consumption', 'lifecycle'), latestIntensityForecast(db, code)])
        : [undefined, undefined];
      const plain = plainAnswer({ timeZone: ba.geographicTimeZone, now, history: history?.points ?? [], forecast: forecast?.points ?? [], durationMinutes: minutes });
      return {
        ba: code, source: current?.source ?? 'none', dataThrough: now?.hour.toISOString() ?? null, generatedAt: new Date().toISOString(),
        unit: INTENSITY_UNIT, duration: formatDuration(minutes), timeZone: ba.geographicTimeZone, ...plain,
      };
    });
  });
}

/**
 * The points a clean window is searched over: the stored forecast when no range is given and one exists (it is
 * consumption-based with lifecycle factors, so only for those); otherwise the measured intensity of the basis and
 * factors asked (the last 48 hours up to the newest data by default).
 */
async function cleanWindowInput(db: Db, ba: string, range: { from: Date; to: Date } | undefined, basis: IntensityBasis, factors: FactorSetName,
  set?: { name: string; overrides: readonly FactorOverride[] }) {
  if (!range && basis === 'consumption' && factors === 'lifecycle' && !set) {
    const forecast = await latestIntensityForecast(db, ba);
    const from = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const last = forecast?.points.at(-1);
    const to = last ? endOf(last) : 0;
    if (forecast && to > from) {
      return { input: 'forecast' as const, points: forecast.points, from: new Date(from), to: new Date(to), source: forecast.source, dataThrough: forecast.dataThrough };
    }
  }
  let window = range;
  if (!window) {
    // "latest" without a forecast: the 48 hours ending with the newest measured hour
    const newest = (await newestFuelHours(db, ba)).get(ba);
    const to = newest ? new Date(newest.getTime() + HOUR_MS) : new Date(Math.ceil(Date.now() / HOUR_MS) * HOUR_MS);
    window = { from: new Date(to.getTime() - 48 * HOUR_MS), to };
  }
  const s = (await hourlyIntensity(db, ba, window.from, window.to, basis, factors, set))!;
  const points: TimedPoint[] = s.points.map((p) => ({ start: p.ts.getTime(), durationMinutes: 60, value: p.value }));
  return { input: 'history' as const, points, ...window, source: s.source, dataThrough: iso(s.dataThrough) };
}
