import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HttpProblem } from '../../platform/problem.ts';
import { getBa } from '../../grid/ba-repository.ts';
import { analyticsKey } from '../shared/analytics-cache.ts';
import { HOUR_MS } from '../shared/hourly.ts';
import { hourlyIntensity } from '../intensity/intensity.ts';
import { newestFuelHours } from '../intensity/now.ts';
import { averageOverPeriod } from './clean-window.ts';
import { intensityRunAsOf, intensityRunPoints, latestIntensityForecast, sdkBest, sdkEmissionsData, sdkForecast, type SdkEmissionsData } from './carbon-aware.ts';
import { METHODOLOGY } from '../shared/methodology.ts';
import { isoInstant, routeAnswer } from '../shared/route-support.ts';
import { generationTtl } from '../shared/route-support.ts';
import type { CarbonDeps } from '../intensity/intensity-routes.ts';


/** Longest ranges per request: consumption-based answers trace every BA for every hour of the range. */
export const MAX_DAYS = { production: 366, consumption: 31 } as const;

const iso = (d: Date | null) => d?.toISOString() ?? null;
const rangeKey = (r: { from: Date; to: Date }) => `${r.from.toISOString()}:${r.to.toISOString()}`;

export async function sdkRoutes(app: FastifyInstance, deps: CarbonDeps): Promise<void> {
  const { db, cache } = deps;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const answer = routeAnswer(cache);
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

interface EmissionsQuery { location: string | string[]; time?: string | undefined; toTime?: string | undefined; startTime?: string | undefined; endTime?: string | undefined }

/** The SDK's `location` query (one value or repeated): one to twenty EIA BA codes; empty values are dropped as the SDK does. */
function sdkLocations(raw: string | string[]): string[] {
  const locations = [raw].flat().map((l) => l.trim()).filter((l) => l !== '');
  if (locations.length === 0 || locations.length > 20 || locations.some((l) => !/^[A-Za-z0-9]{2,6}$/.test(l))) {
    throw new HttpProblem(400, 'location: one to twenty EIA BA codes such as CISO', 'location');
  }
  return locations;
}
