import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Db } from '../platform/db.ts';
import type { Cache } from '../platform/cache.ts';
import { HttpProblem } from '../platform/problem.ts';
import { getBa } from '../grid/ba-repository.ts';
import { ALL_BAS, analyticsKey, dataTtlSeconds, subscribeInvalidation, type Listenable } from './analytics-cache.ts';
import { FACTOR_SETS, FUELS, defaultFactor, factorTable, loadFactorOverrides, STORAGE_RULE } from './factors.ts';
import { HOUR_MS, loadBaHours } from './hourly.ts';
import { hourlyIntensity, INTENSITY_UNIT, type IntensitySeries } from './intensity.ts';
import { allNow, baNow, generationFreshness, newestFuelHours } from './now.ts';
import { averageOverPeriod, cleanWindow, endOf, formatDuration, parseDurationMinutes, type TimedPoint, type Window } from './clean-window.ts';
import { intensityRunAsOf, intensityRunPoints, latestIntensityForecast, sdkBest, sdkEmissionsData, sdkForecast, type SdkEmissionsData } from './carbon-aware.ts';
import { METHODOLOGY } from './methodology.ts';
import { codeParams, envelope, isoInstant, nullableNumber, rangeOf, routeAnswer, sendCsv, source, toCsv, unknownBa } from './route-support.ts';
import { expectedLagMinutes } from './freshness.ts';

export interface CarbonDeps { db: Db; cache: Cache; logger: Logger }

/** Longest ranges per request: consumption-based answers trace every BA for every hour of the range. */
export const MAX_DAYS = { production: 366, consumption: 31 } as const;
const freshness = z.object({ status: z.enum(['fresh', 'late', 'stale']), lagMinutes: z.number().nullable().describe('minutes since the newest hour ended') });
const window = z.object({ start: z.string(), end: z.string(), avg: z.number().describe('time-weighted average intensity, gCO2eq/kWh') });

const iso = (d: Date | null) => d?.toISOString() ?? null;
const rangeKey = (r: { from: Date; to: Date }) => `${r.from.toISOString()}:${r.to.toISOString()}`;

export async function carbonRoutes(app: FastifyInstance, deps: CarbonDeps): Promise<void> {
  const { db, cache } = deps;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const answer = routeAnswer(cache);

  if ('listen' in db) {
    const unlisten = await subscribeInvalidation(db as Db & Listenable, cache, deps.logger);
    app.addHook('onClose', async () => { await unlisten(); });
  }

  r.get('/api/v1/emission-factors', {
    schema: {
      summary: 'Emission factors per fuel (gCO2eq/kWh), the storage rule and per-BA overrides',
      description: `${METHODOLOGY.factors} ${METHODOLOGY.storage}`,
      response: {
        200: z.object({
          sets: z.record(z.string(), z.record(z.string(), z.number())).describe('set name → EIA fuel code → gCO2eq/kWh'),
          fuels: z.array(z.object({
            code: z.string(), name: z.string(),
            lifecycle: nullableNumber.describe('gCO2eq/kWh; null for storage (see storageRule)'), direct: nullableNumber,
            renewable: z.boolean(), carbonFree: z.boolean(),
          })),
          storageRule: z.string(), negativeRule: z.string(),
          overrides: z.array(z.object({ ba: z.string(), fuel: z.string(), set: z.enum(['lifecycle', 'direct']), value: z.number(), source: z.string() })),
          unit: z.literal(INTENSITY_UNIT),
        }),
      },
    },
  }, async () => ({
    sets: Object.fromEntries(FACTOR_SETS.map((s) => [s, factorTable(s)])),
    fuels: FUELS.map((f) => ({ code: f.code, name: f.name, lifecycle: defaultFactor(f.code, 'lifecycle') ?? null, direct: defaultFactor(f.code, 'direct') ?? null, renewable: f.renewable, carbonFree: f.carbonFree })),
    storageRule: STORAGE_RULE,
    negativeRule: METHODOLOGY.negatives,
    overrides: await loadFactorOverrides(db),
    unit: INTENSITY_UNIT,
  }));

  r.get('/api/v1/bas/:code/intensity', {
    schema: {
      summary: 'Hourly carbon intensity of a BA (gCO2eq/kWh), production- or consumption-based; JSON or CSV',
      description: `basis=production: ${METHODOLOGY.production} basis=consumption: ${METHODOLOGY.consumption} ${METHODOLOGY.envelope} ` +
        `Ranges: up to ${MAX_DAYS.production} days for production, ${MAX_DAYS.consumption} for consumption; default the last 48 hours.`,
      params: codeParams,
      querystring: z.object({
        from: isoInstant.optional(), to: isoInstant.optional(),
        basis: z.enum(['production', 'consumption']).default('consumption'),
        factors: z.enum(['lifecycle', 'direct']).default('lifecycle'),
        format: z.enum(['json', 'csv']).default('json'),
      }),
      response: {
        200: z.object({
          ...envelope, basis: z.enum(['production', 'consumption']), factors: z.enum(['lifecycle', 'direct']), unit: z.literal(INTENSITY_UNIT),
          points: z.array(z.object({ ts: z.string(), value: nullableNumber.describe('gCO2eq/kWh'), flags: z.array(z.string()).describe(METHODOLOGY.flags) })),
        }),
      },
    },
  }, async (req, reply) => {
    const { basis, factors, format } = req.query;
    const range = rangeOf(req.query, MAX_DAYS[basis]);
    const ba = req.params.code.toUpperCase();
    const body = await answer(req, analyticsKey(ba, 'intensity', basis, factors, rangeKey(range)), (v) => generationTtl(v.dataThrough, range.to), async () => {
      const s = await hourlyIntensity(db, ba, range.from, range.to, basis, factors);
      if (!s) throw unknownBa(req.params.code);
      return intensityBody(s);
    });
    if (format === 'csv') return sendCsv(reply, `${ba}-intensity-${basis}`, toCsv(['ts', `intensity_${factors}_gco2eq_per_kwh`, 'flags'], body.points.map((p) => [p.ts, p.value, p.flags.join(';')])));
    return body;
  });

  r.get('/api/v1/bas/:code/hourly', {
    schema: {
      summary: 'Chart data of a BA, column-oriented: demand, forecast, net generation, generation by fuel, interchange, both intensities',
      description: 'All arrays align with `ts` (UTC hour starts); missing hours are null. Power in MW (EIA-930 MWh per hour). ' +
        'interchange: MW per neighbour, positive = export from this BA. intensity: gCO2eq/kWh, lifecycle factors; ' +
        `production: ${METHODOLOGY.production} consumption: ${METHODOLOGY.consumption} ${METHODOLOGY.envelope} ` +
        `Range up to ${MAX_DAYS.consumption} days, default the last 48 hours. format=csv gives one row per hour.`,
      params: codeParams,
      querystring: z.object({ from: isoInstant.optional(), to: isoInstant.optional(), format: z.enum(['json', 'csv']).default('json') }),
      response: {
        200: z.object({
          ...envelope, timeZone: z.string(), ts: z.array(z.string()),
          demand: z.array(nullableNumber), forecast: z.array(nullableNumber), netGeneration: z.array(nullableNumber),
          fuels: z.record(z.string(), z.array(nullableNumber)), interchange: z.record(z.string(), z.array(nullableNumber)),
          intensity: z.object({ production: z.array(nullableNumber), consumption: z.array(nullableNumber), unit: z.literal(INTENSITY_UNIT) }),
        }),
      },
    },
  }, async (req, reply) => {
    const range = rangeOf(req.query, MAX_DAYS.consumption);
    const ba = req.params.code.toUpperCase();
    const body = await answer(req, analyticsKey(ba, 'hourly', rangeKey(range)), (v) => dataTtlSeconds({ dataThrough: v.dataThrough, to: range.to }), async () => {
      const hours = await loadBaHours(db, ba, range.from, range.to);
      if (!hours) throw unknownBa(req.params.code);
      const [production, consumption] = await Promise.all([
        hourlyIntensity(db, ba, range.from, range.to, 'production', 'lifecycle'),
        hourlyIntensity(db, ba, range.from, range.to, 'consumption', 'lifecycle'),
      ]);
      return {
        ba, source: hours.source, dataThrough: iso(hours.dataThrough), generatedAt: new Date().toISOString(),
        timeZone: hours.ba.timeZone, ts: hours.ts.map((t) => t.toISOString()),
        demand: hours.demand, forecast: hours.forecast, netGeneration: hours.netGeneration, fuels: hours.fuels, interchange: hours.interchange,
        intensity: { production: production!.points.map((p) => p.value), consumption: consumption!.points.map((p) => p.value), unit: INTENSITY_UNIT },
      };
    });
    if (req.query.format === 'csv') {
      const fuels = Object.keys(body.fuels).sort(), neighbours = Object.keys(body.interchange).sort();
      const header = ['ts', 'demand_mw', 'forecast_mw', 'net_generation_mw', ...fuels.map((f) => `fuel_${f}_mw`), ...neighbours.map((n) => `interchange_${n}_mw`),
        'intensity_production_gco2eq_per_kwh', 'intensity_consumption_gco2eq_per_kwh'];
      const rows = body.ts.map((t, i) => [t, body.demand[i], body.forecast[i], body.netGeneration[i], ...fuels.map((f) => body.fuels[f]![i]),
        ...neighbours.map((n) => body.interchange[n]![i]), body.intensity.production[i], body.intensity.consumption[i]]);
      return sendCsv(reply, `${ba}-hourly`, toCsv(header, rows));
    }
    return body;
  });

  r.get('/api/v1/bas/:code/now', {
    schema: {
      summary: "What's Powering Me: the BA's newest hour with fuel data",
      description: 'mix: MW per fuel and share of positive generation (0–1). ' + METHODOLOGY.shares +
        ` intensity: production and consumption based, gCO2eq/kWh, lifecycle factors. ${METHODOLOGY.production} ${METHODOLOGY.consumption} ` +
        'imports: MW per neighbour, positive = into this BA (from this BA\'s own interchange reports). freshness: of the newest generation hour. ' +
        `hour is null for a BA without any data. ${METHODOLOGY.envelope}`,
      params: codeParams,
      response: {
        200: z.object({
          ...envelope, hour: z.string().nullable(), demandMw: nullableNumber, netGenerationMw: nullableNumber,
          mix: z.array(z.object({ fuel: z.string(), name: z.string(), mw: nullableNumber, share: nullableNumber })),
          renewableShare: nullableNumber, carbonFreeShare: nullableNumber,
          intensity: z.object({ production: nullableNumber, consumption: nullableNumber, unit: z.literal(INTENSITY_UNIT) }),
          imports: z.array(z.object({ ba: z.string(), mw: z.number() })), freshness,
        }),
      },
    },
  }, async (req) => {
    const ba = req.params.code.toUpperCase();
    return answer(req, analyticsKey(ba, 'now'), (v) => generationTtl(v.dataThrough), async () => {
      const now = await baNow(db, ba, generationFreshness);
      if (!now) throw unknownBa(req.params.code);
      return now;
    });
  });

  r.get('/api/v1/now', {
    schema: {
      summary: 'Every active BA at its newest hour: consumption- and production-based intensity, demand, renewable share, freshness',
      description: 'For the home page; computed in a handful of queries for all BAs and cached until new hours arrive. ' +
        `intensity: consumption-based, lifecycle factors, gCO2eq/kWh (${METHODOLOGY.consumption}) productionIntensity: ${METHODOLOGY.production} ` +
        `renewableShare: ${METHODOLOGY.shares} hour: the BA's newest hour with fuel data; dataThrough: its newest observed hour of any series (non-null values; day-ahead forecasts excluded).`,
      response: {
        200: z.object({
          generatedAt: z.string(), stale: z.boolean(),
          data: z.array(z.object({
            ba: z.string(), name: z.string(), region: z.string(), interconnection: z.string(), timeZone: z.string(), hour: z.string().nullable(),
            intensity: nullableNumber, productionIntensity: nullableNumber, demandMw: nullableNumber, renewableShare: nullableNumber,
            source, dataThrough: z.string().nullable(), freshness,
          })),
        }),
      },
    },
  }, async (req) => answer(req, analyticsKey(ALL_BAS, 'now'), (v) => generationTtl(newestOf(v.data.map((d) => d.hour))), () => allNow(db, generationFreshness)));

  r.get('/api/v1/bas/:code/clean-window', {
    schema: {
      summary: 'Cleanest time to run a job of a given duration (consumption-based intensity, lifecycle factors)',
      description: `${METHODOLOGY.cleanWindow} Without from/to: the stored forecast from now on when one exists, else the last 48 measured hours. ` +
        `Range up to ${MAX_DAYS.consumption} days. ${METHODOLOGY.envelope}`,
      params: codeParams,
      querystring: z.object({
        duration: z.string().default('PT1H').describe('ISO 8601 duration of the job, e.g. PT3H or PT90M (5 minutes to 3 days)'),
        from: isoInstant.optional(), to: isoInstant.optional(),
        count: z.coerce.number().int().min(1).max(24).default(3).describe('how many non-overlapping best windows'),
      }),
      response: {
        200: z.object({
          ...envelope, duration: z.string(), basis: z.enum(['forecast', 'history']), unit: z.literal(INTENSITY_UNIT),
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
    const range = explicit ? rangeOf(req.query, MAX_DAYS.consumption) : undefined;
    const key = analyticsKey(ba, 'clean-window', minutes, req.query.count, range ? rangeKey(range) : 'latest');
    return answer(req, key, (v) => generationTtl(v.dataThrough, range?.to), async () => {
      if (!(await getBa(db, ba))) throw unknownBa(req.params.code);
      const input = await cleanWindowInput(db, ba, range);
      const result = cleanWindow(input.points, { durationMinutes: minutes, from: input.from.getTime(), to: input.to.getTime(), count: req.query.count });
      const out = (w: Window) => ({ start: new Date(w.start).toISOString(), end: new Date(w.end).toISOString(), avg: w.avg });
      return {
        ba, source: input.source, dataThrough: input.dataThrough, generatedAt: new Date().toISOString(),
        duration: formatDuration(minutes), basis: input.basis, unit: INTENSITY_UNIT,
        optimal: result.optimal.map(out), best: result.best.map(out),
        runNow: result.runNow ? { ...out(result.runNow), savingsPct: result.runNow.savingsPct } : null,
      };
    });
  });

  r.get('/api/v1/emissions/forecasts/current', {
    schema: {
      summary: 'Carbon Aware SDK compatible: current forecast and optimal window per location (BA code)',
      description: 'Same query and answer as the Green Software Foundation Carbon Aware SDK Web API `GET /emissions/forecasts/current`: ' +
        'an array with one EmissionsForecast per `location` (EIA BA code; repeat the parameter for several). forecastData: the stored ' +
        'intensity forecast (consumption-based, lifecycle, gCO2eq/kWh; duration in minutes) inside [dataStartAt, dataEndAt]; ' +
        'optimalDataPoints: every window of windowSize minutes tied at the lowest time-weighted average. ' + METHODOLOGY.cleanWindow +
        ' 400 naming `location` for an unknown BA (the SDK\'s status for an unknown location); 404 naming `location` when a BA has no forecast yet.',
      querystring: z.object({
        location: z.union([z.string(), z.array(z.string())]).describe('EIA BA code(s), e.g. CISO'),
        dataStartAt: isoInstant.optional(), dataEndAt: isoInstant.optional(),
        windowSize: z.coerce.number().int().min(1).max(4320).optional().describe('job length in minutes; default one forecast point'),
      }),
    },
  }, async (req) => {
    const locations = sdkLocations(req.query.location).map((l) => l.toUpperCase());
    const dataStartAt = req.query.dataStartAt ? new Date(req.query.dataStartAt) : undefined;
    const dataEndAt = req.query.dataEndAt ? new Date(req.query.dataEndAt) : undefined;
    if (dataStartAt && dataEndAt && dataEndAt <= dataStartAt) throw new HttpProblem(400, 'dataEndAt must be after dataStartAt', 'dataEndAt');
    const requestedAt = new Date();
    return Promise.all(locations.map(async (location) => {
      await knownLocation(location);
      const forecast = await latestIntensityForecast(db, location);
      if (!forecast) throw new HttpProblem(404, `no carbon intensity forecast stored for ${location} yet`, 'location');
      return sdkForecast({ location, points: forecast.points, generatedAt: forecast.madeAt, requestedAt, dataStartAt, dataEndAt, windowSize: req.query.windowSize });
    }));
  });

  // ——— The rest of the Carbon Aware SDK Web API's read endpoints (GSF carbon-aware-sdk, CarbonAwareController) ———

  /** Throws the SDK's status for an unknown location: 400 (its LocationSource raises ArgumentException). */
  const knownLocation = async (location: string, field = 'location') => {
    if (!(await getBa(db, location))) throw new HttpProblem(400, `unknown location '${location}': not an EIA balancing authority code`, field);
  };

  /** Measured consumption-based (lifecycle) intensity of one BA over whole hours [from, to), cached per BA and range. */
  const measured = async (req: FastifyRequest, ba: string, from: Date, to: Date) =>
    answer(req, analyticsKey(ba, 'sdk-intensity', rangeKey({ from, to })), (v) => generationTtl(v.dataThrough, to), async () => {
      const s = (await hourlyIntensity(db, ba, from, to, 'consumption', 'lifecycle'))!;
      return { dataThrough: iso(s.dataThrough), points: s.points.map((p) => ({ start: p.ts.getTime(), durationMinutes: 60, value: p.value })) };
    });

  /** Whole hours covering [from, to]; the hour containing `from` when from === to. */
  const hoursCovering = (from: number, to: number) => {
    const hFrom = Math.floor(from / HOUR_MS) * HOUR_MS;
    return { from: new Date(hFrom), to: new Date(Math.max(hFrom + HOUR_MS, Math.ceil(to / HOUR_MS) * HOUR_MS)) };
  };

  const checkSpan = (from: number, to: number, field: string) => {
    if (to - from > MAX_DAYS.consumption * 86_400_000) throw new HttpProblem(400, `${field}: the interval may not be longer than ${MAX_DAYS.consumption} days`, field);
  };

  /** EmissionsData of one location for the SDK's time/toTime query (see the route descriptions). */
  const emissionsOf = async (req: FastifyRequest, location: string, q: EmissionsQuery): Promise<SdkEmissionsData[]> => {
    const ba = location.toUpperCase();
    await knownLocation(ba);
    let from: number, to: number;
    const time = q.time ?? q.startTime, toTime = q.toTime ?? q.endTime;
    if (time === undefined) {
      // "now" in GridPulse terms: EIA hours arrive late, so the newest measured hour stands for the current one.
      const newest = (await newestFuelHours(db, ba)).get(ba);
      if (!newest) return [];
      from = to = newest.getTime();
    } else {
      from = Date.parse(time);
      to = toTime === undefined ? from : Date.parse(toTime);
    }
    const hours = hoursCovering(from, to);
    const series = await measured(req, ba, hours.from, hours.to);
    return sdkEmissionsData(location, series.points, from, to);
  };

  const emissionsQuerystring = (single: boolean) => z.object({
    location: single ? z.string().describe('EIA BA code, e.g. CISO') : z.union([z.string(), z.array(z.string())]).describe('EIA BA code(s), e.g. CISO; repeat the parameter for several'),
    time: isoInstant.optional().describe('start of the query (SDK `time`); default: the newest measured hour of each location'),
    toTime: isoInstant.optional().describe('end of the query (SDK `toTime`); default: `time`, i.e. the data point containing it'),
    startTime: isoInstant.optional().describe('alias of `time` (some SDK client versions send startTime/endTime)'),
    endTime: isoInstant.optional().describe('alias of `toTime`'),
  });
  const emissionsData = z.object({
    location: z.string().describe('the location as requested (EIA BA code)'),
    time: z.string().describe('start of the data point, UTC'),
    rating: z.number().describe('consumption-based carbon intensity, lifecycle factors, gCO2eq/kWh'),
    duration: z.string().describe('length of the data point as a .NET TimeSpan, e.g. 01:00:00'),
  });
  const emissionsResponse = { 200: z.array(emissionsData), 204: z.null().describe('no data in the interval') };
  const emissionsDescription = (what: string) => `Carbon Aware SDK compatible (Green Software Foundation carbon-aware-sdk Web API \`${what}\`, same parameters and answer). ` +
    'Data points are hours of measured consumption-based carbon intensity (lifecycle factors, gCO2eq/kWh; ' + METHODOLOGY.consumption + ') of EIA balancing authorities: ' +
    '`location` is an EIA BA code such as CISO or PJM. Every hour overlapping [time, toTime] is returned; with `time` alone, the hour containing it; ' +
    'without `time`, the newest measured hour (EIA data arrive hours late, so "now" is the newest hour). toTime without time, or before it, is a 400; ' +
    `intervals up to ${MAX_DAYS.consumption} days. Hours without fuel data are left out; 204 when no hour has data. ` +
    'Unknown location: 400 naming `location` (the SDK\'s status). `duration` is a .NET TimeSpan string (01:00:00), as the SDK serialises it.';

  const checkTimes = (q: EmissionsQuery) => {
    const time = q.time ?? q.startTime, toTime = q.toTime ?? q.endTime;
    const timeField = q.time === undefined && q.startTime !== undefined ? 'startTime' : 'time';
    const toField = q.toTime === undefined && q.endTime !== undefined ? 'endTime' : 'toTime';
    if (toTime !== undefined && time === undefined) {
      const needed = toField === 'toTime' ? 'time' : 'startTime';
      throw new HttpProblem(400, `${toField} requires ${needed} as well`, needed);
    }
    if (time !== undefined && toTime !== undefined) {
      if (Date.parse(toTime) < Date.parse(time)) throw new HttpProblem(400, `${toField} must not be before ${timeField}`, toField);
      checkSpan(Date.parse(time), Date.parse(toTime), toField);
    }
  };

  const emissionsRoute = (path: string, single: boolean, best: boolean, summary: string) => r.get(path, {
    schema: {
      summary, description: emissionsDescription(`GET /emissions/${path.split('/emissions/')[1]}`) +
        (best ? ' best: every data point (of all requested locations) tied at the lowest rating, as the SDK returns them.' : ''),
      querystring: emissionsQuerystring(single), response: emissionsResponse,
    },
  }, async (req, reply) => {
    const q = req.query as EmissionsQuery;
    checkTimes(q);
    const locations = sdkLocations(q.location);
    const data = (await Promise.all(locations.map((l) => emissionsOf(req, l, q)))).flat();
    const out = best ? sdkBest(data) : data;
    if (!out.length) return reply.code(204).send(null);
    return out;
  });
  emissionsRoute('/api/v1/emissions/bylocation', true, false, 'Carbon Aware SDK compatible: measured carbon intensity (gCO2eq/kWh) of one location (BA code) per hour');
  emissionsRoute('/api/v1/emissions/bylocations', false, false, 'Carbon Aware SDK compatible: measured carbon intensity (gCO2eq/kWh) of several locations (BA codes) per hour');
  emissionsRoute('/api/v1/emissions/bylocations/best', false, true, 'Carbon Aware SDK compatible: the lowest-intensity hours (gCO2eq/kWh) among several locations (BA codes), all ties');

  const carbonIntensity = z.object({
    location: z.string().describe('the location as requested (EIA BA code)'),
    startTime: z.string(), endTime: z.string(),
    carbonIntensity: z.number().describe('time-weighted average consumption-based intensity, lifecycle factors, gCO2eq/kWh'),
  });
  const averageDescription = 'Time-weighted average over [startTime, endTime) of measured consumption-based carbon intensity (lifecycle factors, gCO2eq/kWh) ' +
    'of an EIA balancing authority (`location`: BA code such as CISO), computed as the SDK does (EmissionsData.AverageOverPeriod): each hour weighted by the ' +
    `minutes of the interval it covers, so partial hours count pro rata. Intervals up to ${MAX_DAYS.consumption} days. ` +
    'endTime not after startTime, an interval not fully covered by hours with data (the SDK: "Period out of range"), or an unknown location: 400 naming the field.';

  /** One CarbonIntensityDTO; `prefix` names the batch element in problem fields. */
  const averageOf = async (req: FastifyRequest, item: { location: string; startTime: string; endTime: string }, prefix = '') => {
    const ba = item.location.toUpperCase();
    const start = Date.parse(item.startTime), end = Date.parse(item.endTime);
    if (!(end > start)) throw new HttpProblem(400, `${prefix}endTime must be after startTime`, `${prefix}endTime`);
    checkSpan(start, end, `${prefix}endTime`);
    await knownLocation(ba, `${prefix}location`);
    const hours = hoursCovering(start, end);
    const avg = averageOverPeriod((await measured(req, ba, hours.from, hours.to)).points, start, end);
    if ('gapAt' in avg) {
      const field = avg.gapAt === start ? `${prefix}startTime` : `${prefix}endTime`;
      throw new HttpProblem(400, `Period out of range: ${ba} has no carbon intensity data from ${new Date(avg.gapAt).toISOString()}, inside the requested period`, field);
    }
    return { location: item.location, startTime: new Date(start).toISOString(), endTime: new Date(end).toISOString(), carbonIntensity: avg.value };
  };

  r.get('/api/v1/emissions/average-carbon-intensity', {
    schema: {
      summary: 'Carbon Aware SDK compatible: average carbon intensity (gCO2eq/kWh) of a location (BA code) over a period',
      description: 'Same query and answer as the Carbon Aware SDK Web API `GET /emissions/average-carbon-intensity` (CarbonIntensityDTO). ' + averageDescription,
      querystring: z.object({ location: z.string().describe('EIA BA code, e.g. CISO'), startTime: isoInstant, endTime: isoInstant }),
      response: { 200: carbonIntensity },
    },
  }, async (req) => averageOf(req, req.query));

  const batchSize = 100;
  const averageBatchSize = 20;
  r.post('/api/v1/emissions/average-carbon-intensity/batch', {
    schema: {
      summary: 'Carbon Aware SDK compatible: average carbon intensity (gCO2eq/kWh) for a batch of locations (BA codes) and periods',
      description: 'Same body and answer as the Carbon Aware SDK Web API `POST /emissions/average-carbon-intensity/batch`: an array of ' +
        `{ location, startTime, endTime } (up to ${averageBatchSize}), answered in order with one CarbonIntensityDTO each. ${averageDescription} ` +
        'Problem fields name the element, e.g. `1/startTime`, as for schema errors. (Unlike the SDK, items may name different locations.)',
      body: z.array(z.object({ location: z.string().describe('EIA BA code'), startTime: isoInstant, endTime: isoInstant })).min(1).max(averageBatchSize),
      response: { 200: z.array(carbonIntensity) },
    },
  }, async (req) => {
    // one item after another: each may trace a month of the interconnection, and a batch must not run them all at once
    const out = [];
    for (const [i, item] of req.body.entries()) out.push(await averageOf(req, item, `${i}/`));
    return out;
  });

  r.post('/api/v1/emissions/forecasts/batch', {
    schema: {
      summary: 'Carbon Aware SDK compatible: the forecast as it stood at requestedAt, with its optimal window, for a batch of locations (BA codes)',
      description: 'Same body and answer as the Carbon Aware SDK Web API `POST /emissions/forecasts/batch` (back-testing): an array of ' +
        `{ requestedAt, location, dataStartAt?, dataEndAt?, windowSize? } (up to ${batchSize}); each answered, in order, with the EmissionsForecast of ` +
        '`GET /emissions/forecasts/current` built from the newest stored intensity forecast made at or before `requestedAt` (default: now). ' +
        'location: EIA BA code; values gCO2eq/kWh (consumption-based, lifecycle); windowSize and duration in minutes. ' + METHODOLOGY.cleanWindow +
        ' 400 naming the element\'s field for bad input or an unknown location; 404 naming `N/requestedAt` when no forecast had been made by then.',
      body: z.array(z.object({
        requestedAt: isoInstant.optional(), location: z.string().describe('EIA BA code'),
        dataStartAt: isoInstant.optional(), dataEndAt: isoInstant.optional(),
        windowSize: z.number().int().min(1).max(4320).optional().describe('job length in minutes; default one forecast point'),
      })).min(1).max(batchSize),
    },
  }, async (req) => {
    const now = new Date();
    return Promise.all(req.body.map(async (item, i) => {
      const ba = item.location.toUpperCase();
      const dataStartAt = item.dataStartAt ? new Date(item.dataStartAt) : undefined;
      const dataEndAt = item.dataEndAt ? new Date(item.dataEndAt) : undefined;
      if (dataStartAt && dataEndAt && dataEndAt <= dataStartAt) throw new HttpProblem(400, `${i}/dataEndAt must be after dataStartAt`, `${i}/dataEndAt`);
      await knownLocation(ba, `${i}/location`);
      const requestedAt = item.requestedAt ? new Date(item.requestedAt) : now;
      // cached per forecast run (one per hour), not per requested instant, which rarely repeats
      const madeAt = await intensityRunAsOf(db, ba, requestedAt);
      if (!madeAt) throw new HttpProblem(404, `no carbon intensity forecast for ${ba} had been made by ${requestedAt.toISOString()}`, `${i}/requestedAt`);
      const stored = await answer(req, analyticsKey(ba, 'sdk-forecast-run', madeAt.toISOString()), 3600,
        async () => ({ madeAt: madeAt.toISOString(), points: await intensityRunPoints(db, ba, madeAt) }));
      return sdkForecast({ location: ba, points: stored.points, generatedAt: new Date(stored.madeAt), requestedAt, dataStartAt, dataEndAt, windowSize: item.windowSize });
    }));
  });
}

/**
 * Carbon answers stand on generation by fuel: they stay fresh until its next hour is due (EIA's usual
 * generation delay after the newest hour); a change event drops them earlier when it arrives sooner.
 */
function generationTtl(dataThrough: string | null, to?: Date): number {
  return dataTtlSeconds({ dataThrough, to, lagMinutes: expectedLagMinutes('generation_by_fuel') });
}

interface EmissionsQuery { location: string | string[]; time?: string | undefined; toTime?: string | undefined; startTime?: string | undefined; endTime?: string | undefined }

/** The SDK's `location` query (one value or repeated): one to twenty EIA BA codes; empty values are dropped as the SDK does. */
function sdkLocations(raw: string | string[]): string[] {
  const locations = [raw].flat().map((l) => l.trim()).filter((l) => l !== '');
  if (locations.length === 0 || locations.length > 20 || locations.some((l) => !/^[A-Za-z0-9]{2,6}$/.test(l))) {
    throw new HttpProblem(400, 'location: one to twenty EIA BA codes such as CISO', 'location');
  }
  return locations;
}

function newestOf(hours: ReadonlyArray<string | null>): string | null {
  return hours.reduce<string | null>((a, h) => (h !== null && (a === null || h > a) ? h : a), null);
}

function intensityBody(s: IntensitySeries) {
  return {
    ba: s.ba, source: s.source, dataThrough: iso(s.dataThrough), generatedAt: new Date().toISOString(),
    basis: s.basis, factors: s.factors, unit: s.unit,
    points: s.points.map((p) => ({ ts: p.ts.toISOString(), value: p.value, flags: p.flags })),
  };
}

/**
 * The points a clean window is searched over: the stored forecast when no range is given and one exists;
 * otherwise measured consumption-based intensity (the last 48 hours up to the newest data by default).
 */
async function cleanWindowInput(db: Db, ba: string, range: { from: Date; to: Date } | undefined) {
  if (!range) {
    const forecast = await latestIntensityForecast(db, ba);
    const from = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const last = forecast?.points.at(-1);
    const to = last ? endOf(last) : 0;
    if (forecast && to > from) {
      return { basis: 'forecast' as const, points: forecast.points, from: new Date(from), to: new Date(to), source: forecast.source, dataThrough: forecast.dataThrough };
    }
  }
  let window = range;
  if (!window) {
    // "latest" without a forecast: the 48 hours ending with the newest measured hour
    const newest = (await newestFuelHours(db, ba)).get(ba);
    const to = newest ? new Date(newest.getTime() + HOUR_MS) : new Date(Math.ceil(Date.now() / HOUR_MS) * HOUR_MS);
    window = { from: new Date(to.getTime() - 48 * HOUR_MS), to };
  }
  const s = (await hourlyIntensity(db, ba, window.from, window.to, 'consumption', 'lifecycle'))!;
  const points: TimedPoint[] = s.points.map((p) => ({ start: p.ts.getTime(), durationMinutes: 60, value: p.value }));
  return { basis: 'history' as const, points, ...window, source: s.source, dataThrough: iso(s.dataThrough) };
}
