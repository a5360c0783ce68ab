import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { queryInt } from '../../platform/query.ts';
import { HttpProblem } from '../../platform/problem.ts';
import { getBa } from '../../grid/ba-repository.ts';
import { analyticsKey } from '../shared/analytics-cache.ts';
import { HOUR_MS } from '../shared/hourly.ts';
import { hourlyIntensity } from '../intensity/intensity.ts';
import { newestFuelHours } from '../intensity/now.ts';
import { averageOverPeriod } from './clean-window.ts';
import { intensityRunAsOf, intensityRunPoints, sdkBest, sdkEmissionsData, sdkForecast, sdkHours, type SdkEmissionsData, type SdkHour } from './carbon-aware.ts';
import { METHODOLOGY } from '../shared/methodology.ts';
import { generationTtl, isoInstant, routeAnswer, iso, rangeKey } from '../shared/route-support.ts';
import { MAX_DAYS, type CarbonDeps } from '../intensity/intensity-routes.ts';

/**
 * The Carbon Aware SDK Web API's endpoints (Green Software Foundation carbon-aware-sdk:
 * src/CarbonAware.WebApi/src/Controllers/CarbonAwareController.cs; parameters in src/CarbonAware.WebApi/src/Models/Parameters.*.cs;
 * documented with examples in docs/carbon-aware-webapi.md), answered from GridPulse's data: `location` is an EIA BA code,
 * values are consumption-based lifecycle gCO2eq/kWh. Every datetime goes through platform/instant.ts (no offset = UTC).
 */

/**
 * How far back from the newest fuel hour "now" looks for the newest hour whose consumption-based value is complete:
 * EIA's BA-to-BA interchange can lag the fuel mix by up to two days.
 */
export const NOW_LOOKBACK_HOURS = 72;


export async function sdkRoutes(app: FastifyInstance, deps: CarbonDeps): Promise<void> {
  const { db, cache } = deps;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const answer = routeAnswer(cache);

  /** Throws the SDK's status for an unknown location: 400 (its LocationSource raises ArgumentException). */
  const knownLocation = async (location: string, field = 'location') => {
    if (!(await getBa(db, location))) throw new HttpProblem(400, `unknown location '${location}': not an EIA balancing authority code`, field);
  };

  // ——— forecasts ———

  /**
   * The EmissionsForecast of one location from the newest intensity forecast run made at or before `requestedAt`
   * (the current one for GET, the one as it stood then for the batch). `prefix` names the batch element in problem fields.
   */
  const forecastOf = async (req: FastifyRequest, ba: string, q: { requestedAt: Date; dataStartAt?: string | undefined; dataEndAt?: string | undefined; windowSize?: number | undefined }, prefix: string, missingField: string) => {
    await knownLocation(ba, `${prefix}location`);
    const madeAt = await intensityRunAsOf(db, ba, q.requestedAt);
    if (!madeAt) throw new HttpProblem(404, `no carbon intensity forecast for ${ba} had been made by ${q.requestedAt.toISOString()}`, `${prefix}${missingField}`);
    // cached per forecast run (one per hour), not per requested instant, which rarely repeats
    const stored = await answer(req, analyticsKey(ba, 'sdk-forecast-run', madeAt.toISOString()), 3600,
      async () => ({ madeAt: madeAt.toISOString(), points: await intensityRunPoints(db, ba, madeAt) }));
    const f = sdkForecast({
      location: ba, points: stored.points, generatedAt: new Date(stored.madeAt), requestedAt: q.requestedAt,
      dataStartAt: q.dataStartAt ? new Date(q.dataStartAt) : undefined, dataEndAt: q.dataEndAt ? new Date(q.dataEndAt) : undefined, windowSize: q.windowSize,
    });
    if ('problem' in f) throw new HttpProblem(400, `${ba}: ${f.problem.detail}`, `${prefix}${f.problem.field}`);
    return f;
  };

  const forecastRule = 'forecastData: windows of windowSize minutes (default: one forecast point, 60) starting at dataStartAt and stepping by the ' +
    'forecast\'s resolution (one hour), each the time-weighted average of the stored intensity forecast over the window (consumption-based, lifecycle, ' +
    'gCO2eq/kWh), with duration = windowSize; none runs past dataEndAt, so a windowSize longer than the span gives empty arrays. optimalDataPoints: every ' +
    'window tied at the lowest average. dataStartAt and dataEndAt default to the forecast\'s first hour and the end of its last; outside the forecast, ' +
    'or dataEndAt not after dataStartAt: 400 naming the field (the SDK\'s EmissionsForecast.Validate). Datetimes without an offset are UTC.';

  r.get('/api/v1/emissions/forecasts/current', {
    config: { access: { public: true } },
    schema: {
      summary: 'Carbon Aware SDK compatible: current forecast and optimal window per location (BA code)',
      description: 'Same query and answer as the Green Software Foundation Carbon Aware SDK Web API `GET /emissions/forecasts/current`: ' +
        'an array with one EmissionsForecast per `location` (EIA BA code; repeat the parameter for several), from the newest stored intensity forecast. ' +
        forecastRule + ' 400 naming `location` for an unknown BA (the SDK\'s status for an unknown location); 404 naming `location` when a BA has no forecast yet.',
      querystring: z.object({
        location: z.union([z.string(), z.array(z.string())]).optional().describe('EIA BA code(s), e.g. CISO'),
        dataStartAt: isoInstant.optional(), dataEndAt: isoInstant.optional(),
        windowSize: queryInt(1, 4320).optional().describe('job length in minutes; default one forecast point'),
      }),
    },
  }, async (req) => {
    const q = req.query;
    const requestedAt = new Date();
    const out = [];
    for (const location of sdkLocations(q.location)) out.push(await forecastOf(req, location.toUpperCase(), { ...q, requestedAt }, '', 'location'));
    return out;
  });

  r.post('/api/v1/emissions/forecasts/batch', {
    config: { access: { public: true } },
    schema: {
      summary: 'Carbon Aware SDK compatible: the forecast as it stood at requestedAt, with its optimal window, for a batch of locations (BA codes)',
      description: 'Same body and answer as the Carbon Aware SDK Web API `POST /emissions/forecasts/batch` (back-testing): an array of ' +
        `{ requestedAt, location, dataStartAt?, dataEndAt?, windowSize? } (up to ${BATCH_SIZE}); each answered, in order, with the EmissionsForecast of ` +
        '`GET /emissions/forecasts/current` built from the newest stored intensity forecast made at or before `requestedAt` (default: now). ' + forecastRule +
        ' Problem fields name the element, e.g. `1/dataStartAt`; 400 for bad input or an unknown location; 404 naming `N/requestedAt` when no forecast had been made by then.',
      body: z.array(z.object({
        requestedAt: isoInstant.optional(), location: z.string().describe('EIA BA code'),
        dataStartAt: isoInstant.optional(), dataEndAt: isoInstant.optional(),
        windowSize: z.number().int().min(1).max(4320).optional().describe('job length in minutes; default one forecast point'),
      })).min(1).max(BATCH_SIZE),
    },
  }, async (req) => {
    const now = new Date();
    const out = [];
    for (const [i, item] of req.body.entries()) {
      const requestedAt = item.requestedAt ? new Date(item.requestedAt) : now;
      out.push(await forecastOf(req, item.location.toUpperCase(), { ...item, requestedAt }, `${i}/`, 'requestedAt'));
    }
    return out;
  });

  // ——— measured emissions ———

  /** Measured consumption-based (lifecycle) intensity of one BA over whole hours [from, to), cached per BA and range. */
  const measured = async (req: FastifyRequest, ba: string, from: Date, to: Date): Promise<{ dataThrough: string | null; points: SdkHour[] }> =>
    answer(req, analyticsKey(ba, 'sdk-intensity', rangeKey({ from, to })), (v) => generationTtl(v.dataThrough, to), async () => {
      const s = (await hourlyIntensity(db, ba, from, to, 'consumption', 'lifecycle'))!;
      return { dataThrough: iso(s.dataThrough), points: sdkHours(s.points) };
    });

  /** Whole hours covering [from, to]; the hour containing `from` when from === to. */
  const hoursCovering = (from: number, to: number) => {
    const hFrom = Math.floor(from / HOUR_MS) * HOUR_MS;
    return { from: new Date(hFrom), to: new Date(Math.max(hFrom + HOUR_MS, Math.ceil(to / HOUR_MS) * HOUR_MS)) };
  };

  const checkSpan = (from: number, to: number, field: string) => {
    if (to - from > MAX_DAYS.consumption * 86_400_000) throw new HttpProblem(400, `${field}: the interval may not be longer than ${MAX_DAYS.consumption} days`, field);
  };

  /**
   * "Now" in GridPulse terms: EIA hours arrive late, so the newest measured hour whose consumption-based value is
   * complete stands for the current one (the fuel mix's newest hour is skipped while its interchange is missing).
   */
  const newestComplete = async (req: FastifyRequest, ba: string): Promise<number | undefined> => {
    const newest = (await newestFuelHours(db, ba)).get(ba);
    if (!newest) return undefined;
    const to = newest.getTime() + HOUR_MS;
    const { points } = await measured(req, ba, new Date(to - NOW_LOOKBACK_HOURS * HOUR_MS), new Date(to));
    return points.findLast((p) => p.value !== null)?.start;
  };

  /** EmissionsData of one location for the SDK's time/toTime query (see the route descriptions). */
  const emissionsOf = async (req: FastifyRequest, location: string, q: EmissionsQuery): Promise<SdkEmissionsData[]> => {
    const ba = location.toUpperCase();
    await knownLocation(ba);
    let from: number, to: number;
    const time = q.time ?? q.startTime, toTime = q.toTime ?? q.endTime;
    if (time === undefined) {
      const newest = await newestComplete(req, ba);
      if (newest === undefined) return [];
      from = to = newest;
    } else {
      from = Date.parse(time);
      to = toTime === undefined ? from : Date.parse(toTime);
    }
    const hours = hoursCovering(from, to);
    const series = await measured(req, ba, hours.from, hours.to);
    return sdkEmissionsData(location, series.points, from, to);
  };

  const locations = z.union([z.string(), z.array(z.string())]).optional();
  const emissionsQuerystring = (single: boolean) => z.object({
    location: single ? z.string().describe('EIA BA code, e.g. CISO') : locations.describe('EIA BA code(s), e.g. CISO; repeat the parameter for several'),
    ...(single ? {} : { locations: locations.describe('alias of `location`, as the SDK documentation\'s examples spell it') }),
    time: isoInstant.optional().describe('start of the query (SDK `time`); default: the newest hour with complete data of each location'),
    toTime: isoInstant.optional().describe('end of the query (SDK `toTime`), after `time`; default: `time`, i.e. the data point containing it'),
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
    'without `time`, the newest hour with complete data (EIA data arrive hours late, so "now" is the newest complete hour). toTime without time, or not after it, is a 400; ' +
    `intervals up to ${MAX_DAYS.consumption} days. Datetimes without an offset are UTC. Hours without fuel data, and hours whose interchange has not been ` +
    'published yet (consumption-based value incomplete, flag interchange-missing), are left out; 204 when no hour has data. ' +
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
      // the SDK's CarbonAwareParameters StartBeforeEnd: time < toTime
      if (Date.parse(toTime) <= Date.parse(time)) throw new HttpProblem(400, `${toField} must be after ${timeField}`, toField);
      checkSpan(Date.parse(time), Date.parse(toTime), toField);
    }
  };

  const emissionsRoute = (path: string, single: boolean, best: boolean, summary: string) => r.get(path, {
    config: { access: { public: true } },
    schema: {
      summary, description: emissionsDescription(`GET /emissions/${path.split('/emissions/')[1]}`) +
        (best ? ' best: every data point (of all requested locations) tied at the lowest rating, as the SDK returns them.' : ''),
      querystring: emissionsQuerystring(single), response: emissionsResponse,
    },
  }, async (req, reply) => {
    const q = req.query as EmissionsQuery;
    checkTimes(q);
    const data = (await Promise.all(sdkLocations(q.location, q.locations).map((l) => emissionsOf(req, l, q)))).flat();
    const out = best ? sdkBest(data) : data;
    if (!out.length) return reply.code(204).send(null);
    return out;
  });
  emissionsRoute('/api/v1/emissions/bylocation', true, false, 'Carbon Aware SDK compatible: measured carbon intensity (gCO2eq/kWh) of one location (BA code) per hour');
  emissionsRoute('/api/v1/emissions/bylocations', false, false, 'Carbon Aware SDK compatible: measured carbon intensity (gCO2eq/kWh) of several locations (BA codes) per hour');
  emissionsRoute('/api/v1/emissions/bylocations/best', false, true, 'Carbon Aware SDK compatible: the lowest-intensity hours (gCO2eq/kWh) among several locations (BA codes), all ties');

  // ——— average carbon intensity ———

  const carbonIntensity = z.object({
    location: z.string().describe('the location as requested (EIA BA code)'),
    startTime: z.string(), endTime: z.string(),
    carbonIntensity: z.number().describe('time-weighted average consumption-based intensity, lifecycle factors, gCO2eq/kWh'),
  });
  const averageDescription = 'Time-weighted average over [startTime, endTime) of measured consumption-based carbon intensity (lifecycle factors, gCO2eq/kWh) ' +
    'of an EIA balancing authority (`location`: BA code such as CISO), computed as the SDK does (EmissionsData.AverageOverPeriod): each hour weighted by the ' +
    `minutes of the interval it covers, so partial hours count pro rata. Intervals up to ${MAX_DAYS.consumption} days; datetimes without an offset are UTC. ` +
    'endTime not after startTime, an interval not fully covered by hours with complete data (the SDK: "Period out of range"; an hour whose interchange ' +
    'has not been published yet is not complete), or an unknown location: 400 naming the field.';

  /** One CarbonIntensityDTO; `prefix` names the batch element in problem fields. */
  const averageOf = async (req: FastifyRequest, item: { location: string; startTime: string; endTime: string }, prefix = '') => {
    const ba = item.location.toUpperCase();
    const start = Date.parse(item.startTime), end = Date.parse(item.endTime);
    if (!(end > start)) throw new HttpProblem(400, `${prefix}endTime must be after startTime`, `${prefix}endTime`);
    checkSpan(start, end, `${prefix}endTime`);
    await knownLocation(ba, `${prefix}location`);
    const hours = hoursCovering(start, end);
    const { points } = await measured(req, ba, hours.from, hours.to);
    const avg = averageOverPeriod(points, start, end);
    if ('gapAt' in avg) {
      const field = avg.gapAt === start ? `${prefix}startTime` : `${prefix}endTime`;
      const incomplete = points.find((p) => p.start <= avg.gapAt && avg.gapAt < p.start + HOUR_MS)?.incomplete;
      const from = new Date(avg.gapAt).toISOString();
      throw new HttpProblem(400, incomplete
        ? `Period out of range: ${ba}'s consumption-based carbon intensity is incomplete from ${from} (${incomplete.join(', ')}: its BA-to-BA interchange is not published yet), inside the requested period`
        : `Period out of range: ${ba} has no carbon intensity data from ${from}, inside the requested period`, field);
    }
    return { location: item.location, startTime: new Date(start).toISOString(), endTime: new Date(end).toISOString(), carbonIntensity: avg.value };
  };

  r.get('/api/v1/emissions/average-carbon-intensity', {
    config: { access: { public: true } },
    schema: {
      summary: 'Carbon Aware SDK compatible: average carbon intensity (gCO2eq/kWh) of a location (BA code) over a period',
      description: 'Same query and answer as the Carbon Aware SDK Web API `GET /emissions/average-carbon-intensity` (CarbonIntensityDTO). ' + averageDescription,
      querystring: z.object({ location: z.string().describe('EIA BA code, e.g. CISO'), startTime: isoInstant, endTime: isoInstant }),
      response: { 200: carbonIntensity },
    },
  }, async (req) => averageOf(req, req.query));

  r.post('/api/v1/emissions/average-carbon-intensity/batch', {
    config: { access: { public: true } },
    schema: {
      summary: 'Carbon Aware SDK compatible: average carbon intensity (gCO2eq/kWh) for a batch of locations (BA codes) and periods',
      description: 'Same body and answer as the Carbon Aware SDK Web API `POST /emissions/average-carbon-intensity/batch`: an array of ' +
        `{ location, startTime, endTime } (up to ${AVERAGE_BATCH_SIZE}), answered in order with one CarbonIntensityDTO each. ${averageDescription} ` +
        'Problem fields name the element, e.g. `1/startTime`, as for schema errors. (Unlike the SDK, items may name different locations.)',
      body: z.array(z.object({ location: z.string().describe('EIA BA code'), startTime: isoInstant, endTime: isoInstant })).min(1).max(AVERAGE_BATCH_SIZE),
      response: { 200: z.array(carbonIntensity) },
    },
  }, async (req) => {
    // one item after another: each may trace a month of the interconnection, and a batch must not run them all at once
    const out = [];
    for (const [i, item] of req.body.entries()) out.push(await averageOf(req, item, `${i}/`));
    return out;
  });
}

const BATCH_SIZE = 100;
const AVERAGE_BATCH_SIZE = 20;

interface EmissionsQuery {
  location?: string | string[] | undefined; locations?: string | string[] | undefined;
  time?: string | undefined; toTime?: string | undefined; startTime?: string | undefined; endTime?: string | undefined;
}

/**
 * The SDK's `location` query (one value or repeated; `locations` as its documentation's examples spell it): one to
 * twenty EIA BA codes; empty values are dropped as the SDK does (CarbonAwareParameters.MultipleLocationsFromStrings).
 */
function sdkLocations(...raw: Array<string | string[] | undefined>): string[] {
  const locations = raw.flat().filter((l) => l !== undefined).map((l) => l.trim()).filter((l) => l !== '');
  if (locations.length === 0 || locations.length > 20 || locations.some((l) => !/^[A-Za-z0-9]{2,6}$/.test(l))) {
    throw new HttpProblem(400, 'location: one to twenty EIA BA codes such as CISO', 'location');
  }
  return locations;
}
