import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { toCsv } from '../platform/csv.ts';
import { checkRange, queryInt } from '../platform/query.ts';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { getBa, listBas } from './ba-repository.ts';
import { getSeriesByRef, listSeries, SERIES_REF_MESSAGE, SERIES_REF_PATTERN } from './series-repository.ts';
import { readObservations } from './observation-repository.ts';
import { isoInstant } from '../platform/instant.ts';

const ba = z.object({
  code: z.string().describe('EIA-930 BA code'), name: z.string(),
  timeZone: z.string().describe('EIA-930 reporting time zone (IANA); BA-local days (pulse, rollups, baselines) use it'),
  geographicTimeZone: z.string().describe('time zone the BA lies in (IANA); differs from timeZone for EPE, PNM, WACM (report in Arizona time), IPCO (Pacific) and LGEE (Central)'),
  region: z.string(), interconnection: z.string(),
  generationOnly: z.boolean().describe('reports no demand or day-ahead forecast'),
  active: z.boolean().describe('false once retired'),
  reportingSince: z.string().nullable().describe('first BA-local day of EIA-930 data (YYYY-MM-DD) for a BA that began after EIA-930 did; null: since July 2015'),
  retiredOn: z.string().nullable().describe("EIA's retirement date (YYYY-MM-DD, BA-local, last day asked for); null while reporting"),
});

export function gridRoutes(app: FastifyInstance, db: Db): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/bas', {
    config: { access: { public: true } },
    schema: {
      summary: 'Balancing authorities reporting to EIA-930 (registry: docs/ba-registry.md)',
      querystring: z.object({ includeRetired: z.enum(['true', 'false']).optional().describe('true: retired BAs too, with their retiredOn') }),
      response: { 200: z.object({ data: z.array(ba) }) },
    },
  }, async (req) => ({ data: await listBas(db, { includeRetired: req.query.includeRetired === 'true' }) }));

  r.get('/api/v1/bas/:code', {
    config: { access: { public: true } },
    schema: {
      summary: 'One balancing authority by EIA code',
      params: z.object({ code: z.string().regex(/^[A-Za-z0-9]{2,6}$/, 'an EIA BA code such as CISO') }),
      response: { 200: z.object({ data: ba }) },
    },
  }, async (req) => {
    const found = await getBa(db, req.params.code.toUpperCase());
    if (!found) throw new HttpProblem(404, `unknown balancing authority '${req.params.code}'`, 'code');
    return { data: found };
  });
}

const MAX_RANGE_DAYS = 366;

const observationsCsv = (rows: Array<{ ts: string; value: number | null; quality: string }>): string =>
  toCsv(['ts', 'value', 'quality'], rows.map((r) => [r.ts, r.value, r.quality]));

export function seriesRoutes(app: FastifyInstance, db: Db): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/series', {
    config: { access: { public: true } },
    schema: {
      summary: 'Series, filtered by BA and type',
      querystring: z.object({
        ba: z.string().regex(/^[A-Za-z0-9]{2,6}$/).optional(),
        type: z.enum(['demand', 'forecast', 'net_generation', 'interchange', 'generation_by_fuel', 'ba_interchange', 'co2', 'price']).optional(),
      }),
    },
  }, async (req) => {
    const ba = req.query.ba?.toUpperCase();
    if (ba && !(await getBa(db, ba))) throw new HttpProblem(404, `unknown balancing authority '${ba}'`, 'ba');
    return { data: await listSeries(db, { ba, type: req.query.type }) };
  });

  r.get('/api/v1/observations', {
    config: { access: { public: true } },
    schema: {
      summary: 'Hourly observations of one series (ts = UTC start of the hour); JSON or CSV (format=csv), paged',
      querystring: z.object({
        series: z.string().regex(SERIES_REF_PATTERN, SERIES_REF_MESSAGE).describe('series key (CISO.demand) or numeric series id, as listed by /api/v1/series'),
        from: isoInstant, to: isoInstant,
        format: z.enum(['json', 'csv']).default('json'),
        limit: queryInt(1, 10000).default(1000),
        offset: queryInt(0).default(0),
      }),
    },
  }, async (req, reply) => {
    const { series, format, limit, offset } = req.query;
    const { from, to } = checkRange(new Date(req.query.from), new Date(req.query.to), MAX_RANGE_DAYS * 86_400_000, `${MAX_RANGE_DAYS} days`);
    const s = await getSeriesByRef(db, series);
    if (!s) throw new HttpProblem(404, `unknown series '${series}'`, 'series');
    const rows = await readObservations(db, s.id, from, to, limit + 1, offset);
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    if (format === 'csv') return reply.type('text/csv').send(observationsCsv(page));
    return { series: s.key, id: s.id, units: s.units, source: s.source, data: page, next: more ? offset + limit : null };
  });
}
