import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { queryDecimal } from '../platform/query.ts';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { listBas } from '../grid/ba-repository.ts';
import { locateCounty, locatePoint, locateState, locateZip, type Located } from './locate.ts';

const locatedBa = z.object({
  code: z.string().describe('EIA balancing authority code'),
  name: z.string().nullable().describe('null when EIA-930 does not cover this BA (Alaska, Hawaii, Canada)'),
  covered: z.boolean().describe('GridPulse has EIA-930 data for it (an active BA in the registry)'),
});

export const locateAnswer = z.object({
  kind: z.enum(['zip', 'county', 'state', 'point']),
  label: z.string().describe('the place, e.g. "94110, CA" or "Alameda County, CA"'),
  state: z.string().describe('USPS state code'),
  zip: z.string().optional(),
  county: z.object({ fips: z.string(), name: z.string() }).optional(),
  subregion: z.string().nullable().describe('eGRID2023 subregion acronym (e.g. CAMX)'),
  utility: z.string().optional().describe('the predominant electric utility of the ZIP code (EPA Power Profiler)'),
  ba: z.string().nullable().describe('the likeliest balancing authority that GridPulse covers; null when none is'),
  bas: z.array(locatedBa).describe('every BA serving the place, likeliest first'),
  multiple: z.boolean().describe('more than one BA serves the place'),
  basis: z.enum(['utility', 'county', 'subregion']).describe('utility: the utilities serving the ZIP code (EIA-861); county: the counties\' BAs (PNNL TELL); subregion: the eGRID subregion'),
  note: z.string().describe('a sentence for people'),
});

const query = z.object({
  zip: z.string().regex(/^\d{5}$/, 'a 5-digit US ZIP code such as 94110').optional(),
  county: z.string().regex(/^\d{5}$/, 'a 5-digit county FIPS code such as 06001').optional(),
  state: z.string().regex(/^[A-Za-z]{2}$/, 'a 2-letter state code such as CA').optional(),
  lat: queryDecimal(-90, 90).optional().describe('latitude, degrees north (with lon)'),
  lon: queryDecimal(-180, 180).optional().describe('longitude, degrees east (with lat)'),
});

/**
 * Resolves a place to balancing authorities, then names them from the registry.
 * @throws HttpProblem 400 naming the field when the query is not exactly one place; 404 when it is not in the table.
 */
export async function locate(db: Db, q: z.infer<typeof query>): Promise<z.infer<typeof locateAnswer>> {
  const given = (['zip', 'county', 'state'] as const).filter((k) => q[k] !== undefined);
  const point = q.lat !== undefined || q.lon !== undefined;
  if (given.length + (point ? 1 : 0) !== 1) throw new HttpProblem(400, 'give exactly one of zip, county, state, or lat with lon', given[1] ?? 'zip');
  if (point && (q.lat === undefined || q.lon === undefined)) throw new HttpProblem(400, 'lat and lon go together', q.lat === undefined ? 'lat' : 'lon');
  const field = given[0] ?? 'lat';
  const found: Located | undefined = q.zip ? locateZip(q.zip) : q.county ? locateCounty(q.county) : q.state ? locateState(q.state.toUpperCase()) : locatePoint(q.lat!, q.lon!);
  if (!found) throw new HttpProblem(404, point ? 'no US county contains that point' : `${field} ${q[field as 'zip']} is not in GridPulse's location table`, field);
  const registry = new Map((await listBas(db)).map((b) => [b.code, b.name]));
  const bas = found.bas.map((code) => ({ code, name: registry.get(code) ?? null, covered: registry.has(code) }));
  const ba = bas.find((b) => b.covered)?.code ?? null;
  const others = bas.filter((b) => b.code !== ba);
  const note = ba === null
    ? `${found.label} is not served by a balancing authority that reports to EIA-930${bas.length ? ` (${bas.map((b) => b.code).join(', ')})` : ''}.`
    : `${found.label} is served by ${registry.get(ba)} (${ba})` +
      (others.length ? `; ${others.map((b) => b.code).join(', ')} ${others.length === 1 ? 'also serves' : 'also serve'} part of it.` : '.');
  return { ...found, ba, bas, multiple: bas.length > 1, note };
}

export function locateRoutes(app: FastifyInstance, db: Db): void {
  app.withTypeProvider<ZodTypeProvider>().get('/api/v1/locate', {
    config: { access: { public: true } },
    schema: {
      summary: 'Which balancing authority serves a place: a ZIP code, county, state or point',
      description: 'Exactly one of `zip`, `county` (5-digit FIPS), `state` (USPS code) or `lat`+`lon`. BAs come from public crosswalks ' +
        '(EPA Power Profiler ZIP → utility → EIA-861 BA; PNNL TELL county → BA; HUD ZIP → county; us-atlas county shapes for points), ' +
        'likeliest first; a place served by several BAs lists them all. 400 naming the field for a malformed or ambiguous query, ' +
        '404 naming the field for a place not in the table.',
      querystring: query,
      response: { 200: locateAnswer },
    },
  }, async (req) => locate(db, req.query));
}
