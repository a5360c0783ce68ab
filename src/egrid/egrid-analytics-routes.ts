import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Db } from '../platform/db.ts';
import type { Cache } from '../platform/cache.ts';
import { HttpProblem } from '../platform/problem.ts';
import { PUBLIC } from '../auth/access.ts';
import { queryDecimal, queryInt } from '../platform/query.ts';
import { analyticsKey } from '../analytics/shared/analytics-cache.ts';
import { routeAnswer } from '../analytics/shared/route-support.ts';
import { getPlant, listGenerators, listUnits, plantHistory, plantYears } from './egrid-repository.ts';
import { LIST_COLUMNS, PLANT_SORTS, plantFigures, queryPlants, storeVersion, streamPlants, type PlantFilter, type PlantListRow, type PlantSort } from './egrid-analytics-repository.ts';
import { AGGREGATE_BY, EGRID_MIX_FUELS, type AggregateBy } from './egrid-rates.ts';
import { aggregatesOf, changes, compareWithUs, emissionFactorsOf, POLLUTANTS, rateDistribution, resolveYear, topEmitters } from './egrid-analytics.ts';
import { EGRID_FACTOR_FUELS, FALLBACK_SET } from './emission-factors.ts';
import { safeCsv, safeCsvRows, safeXlsx, XLSX_TYPE, type Cell } from './spreadsheet-safe.ts';
import { MAP_HEIGHT, MAP_WIDTH, projectPoint, statePaths } from './us-map.ts';
import { egridReport, reportSheets, REPORT_LEVELS, REPORT_TABLES } from './egrid-report.ts';

export interface EgridDeps { db: Db; cache: Cache }

/** eGRID answers stay a day; the store version in every key retires them as soon as an import changes a year. */
const TTL_SECONDS = 86_400;
const PAGE_MAX = 500;

const year = queryInt(1996, 2100).optional().describe('eGRID data year (default: the newest imported)');
const code = (what: string) => z.string().regex(/^[A-Za-z0-9-]{1,10}$/, `a ${what} code`);
const nn = z.number().nullable();
const UNITS = 'Units: capacity MW, generation MWh, heat input MMBtu, CO2/NOx/SO2 short tons, output rates lb/MWh (2,000 × tons / MWh), ' +
  'input rates lb/MMBtu, shares 0–1. Source: EPA eGRID plant rows as imported (see GET /api/v1/egrid/years).';
const aggregateSchema = z.object({
  key: z.string(), plants: z.number(), capacityMw: z.number(), netGenerationMwh: z.number().describe('MWh, signed sum (negative net generation counts, as in eGRID)'),
  heatInputMmbtu: z.number(), co2Tons: z.number(), noxTons: z.number(), so2Tons: z.number(),
  co2Rate: nn.describe('lb/MWh'), noxRate: nn, so2Rate: nn, co2InputRate: nn.describe('lb/MMBtu'), noxInputRate: nn, so2InputRate: nn,
  nonBaseload: z.object({ co2Rate: nn, noxRate: nn, so2Rate: nn, generationMwh: z.number() }).describe('eGRID non-baseload rates, lb/MWh: plants weighted by NBFACTOR from capacity factor'),
  mix: z.record(z.enum(EGRID_MIX_FUELS), z.object({ mwh: z.number(), share: nn })).describe('generation by eGRID resource-mix fuel, MWh and share 0–1'),
});
const publishedSchema = z.object({ netGenerationMwh: nn, co2Tons: nn, co2Rate: nn, noxRate: nn, so2Rate: nn, nonBaseloadCo2Rate: nn });
const plantRowSchema = z.object({
  orispl: z.number().nullable(), plantName: z.string().nullable(), state: z.string().nullable(), countyName: z.string().nullable(), baCode: z.string().nullable(),
  subregion: z.string().nullable(), nercRegion: z.string().nullable(), operatorName: z.string().nullable(), sector: z.string().nullable(),
  latitude: nn, longitude: nn, primaryFuel: z.string().nullable(), fuelCategory: z.string().nullable(), nameplateMw: nn.describe('MW'),
  capacityFactor: nn.describe('0–1'), netGenerationMwh: nn, heatInputMmbtu: nn, co2ShortTons: nn, noxShortTons: nn, so2ShortTons: nn,
  co2RateLbPerMwh: nn, noxRateLbPerMwh: nn, so2RateLbPerMwh: nn, heatRateBtuPerKwh: nn,
});
const plantFilter = {
  state: z.string().regex(/^[A-Za-z]{2}$/, 'a two-letter state code').optional(),
  ba: code('BA').optional(), subregion: code('eGRID subregion').optional(),
  fuel: z.string().regex(/^[A-Za-z]{2,10}$/, 'a primary fuel code (NG, SUB) or fuel category (GAS, COAL)').optional(),
  minMw: queryDecimal(0, 100_000).optional().describe('nameplate MW at least'), maxMw: queryDecimal(0, 100_000).optional().describe('nameplate MW at most'),
};
const sortParam = z.string().regex(new RegExp(`^-?(${Object.keys(PLANT_SORTS).join('|')})$`), `one of ${Object.keys(PLANT_SORTS).join(', ')}, '-' first for descending`).default('orispl');
const provenance = z.object({ year: z.number(), edition: z.string().describe('eGRID edition, e.g. eGRID2022') });

const csvName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
const rowOf = (r: PlantListRow): Cell[] => LIST_COLUMNS.map((c) => (r as unknown as Record<string, Cell>)[c.replace(/_([a-z0-9])/g, (_, x: string) => x.toUpperCase())]);

/** A download: CSV (text or a stream of chunks) or XLSX, named `name`.csv / .xlsx. */
function sendDownload(reply: FastifyReply, kind: 'csv' | 'xlsx', name: string, body: string | Buffer | Readable) {
  return reply.type(kind === 'csv' ? 'text/csv; charset=utf-8' : XLSX_TYPE)
    .header('content-disposition', `attachment; filename="${csvName(name)}.${kind}"`).send(body);
}

/** The eGRID analytics API: public, cached, JSON (paged where lists are long), CSV streamed whole, XLSX. */
export async function egridAnalyticsRoutes(app: FastifyInstance, deps: EgridDeps): Promise<void> {
  const { db, cache } = deps;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const answer = routeAnswer(cache);
  const cached = async <T extends object>(req: Parameters<typeof answer>[0], parts: Array<string | number | undefined>, compute: () => Promise<T>) =>
    answer(req, analyticsKey('EGRID', await storeVersion(db), ...parts.map((p) => p ?? '')), TTL_SECONDS, compute);

  r.get('/api/v1/egrid/years', {
    config: { access: PUBLIC },
    schema: {
      summary: 'Every imported eGRID data year, newest first: its edition, plant count and the sheets it has',
      description: '`sheets`: each kind imported for the year (plant, generator, unit, state, ba, subregion, nerc, us) with its row count. '
        + 'A year without a plant sheet (plants 0) answers plant detail from its generators and units; aggregates need plant rows (404 naming the sheets the year has).',
      response: { 200: z.object({ data: z.array(z.object({ year: z.number(), edition: z.string(), plants: z.number(), sheets: z.array(z.object({ kind: z.string(), rows: z.number() })) })) }) },
    },
  }, async () => {
    const rows = await db.query<{ year: number; plants: number }>('SELECT data_year AS year, count(*)::int AS plants FROM egrid_plants GROUP BY 1');
    const sets = await db.query<{ year: number; kind: string; edition: string; rows: number }>('SELECT data_year AS year, kind, edition, row_count::int AS rows FROM egrid_datasets ORDER BY kind');
    const plants = new Map(rows.map((x) => [x.year, x.plants]));
    const years = [...new Set([...plants.keys(), ...sets.map((d) => d.year)])].sort((a, b) => b - a);
    return {
      data: years.map((year) => {
        const mine = sets.filter((d) => d.year === year);
        return { year, edition: mine.find((d) => d.kind === 'plant')?.edition ?? mine[0]?.edition ?? `eGRID${year}`, plants: plants.get(year) ?? 0,
          sheets: mine.map((d) => ({ kind: d.kind, rows: d.rows })) };
      }),
    };
  });

  r.get('/api/v1/egrid/plants', {
    config: { access: PUBLIC },
    schema: {
      summary: 'eGRID plants of a year, filtered, sorted and paged (JSON), or all matching as CSV (streamed) or XLSX',
      description: `${UNITS} fuel matches the primary fuel code (PLPRMFL) or the fuel category (PLFUELCT). Text cells of downloads that begin with = + - @ tab or CR are neutralised.`,
      querystring: z.object({
        year, ...plantFilter, sort: sortParam,
        page: queryInt(1, 100_000).default(1), pageSize: queryInt(1, PAGE_MAX).default(100),
        format: z.enum(['json', 'csv', 'xlsx']).default('json'),
      }),
      response: { 200: provenance.extend({ total: z.number(), page: z.number(), pageSize: z.number(), data: z.array(plantRowSchema) }) },
    },
  }, async (req, reply) => {
    const q = req.query;
    if (q.minMw !== undefined && q.maxMw !== undefined && q.minMw > q.maxMw) throw new HttpProblem(400, 'minMw is above maxMw', 'minMw');
    const y = await resolveYear(db, q.year);
    const filter: PlantFilter = { state: q.state, ba: q.ba, subregion: q.subregion, fuel: q.fuel, minMw: q.minMw, maxMw: q.maxMw };
    const desc = q.sort.startsWith('-');
    const sort = q.sort.replace(/^-/, '') as PlantSort;
    const name = `egrid-${y.year}-plants`;
    if (q.format === 'csv') {
      async function* lines() {
        yield safeCsv(LIST_COLUMNS, []);
        for await (const chunk of streamPlants(db, y.year, filter, sort, desc)) yield safeCsvRows(chunk.map(rowOf));
      }
      return sendDownload(reply, 'csv', name, Readable.from(lines()));
    }
    if (q.format === 'xlsx') {
      const rows: Cell[][] = [];
      for await (const chunk of streamPlants(db, y.year, filter, sort, desc)) rows.push(...chunk.map(rowOf));
      return sendDownload(reply, 'xlsx', name, await safeXlsx([{ name: `Plants ${y.year}`, header: LIST_COLUMNS, rows }]));
    }
    return cached(req, ['plants', y.year, JSON.stringify(filter), q.sort, q.page, q.pageSize], async () => {
      const { total, rows } = await queryPlants(db, y.year, filter, sort, desc, q.pageSize, (q.page - 1) * q.pageSize);
      return { ...y, total, page: q.page, pageSize: q.pageSize, data: rows };
    });
  });

  r.get('/api/v1/egrid/plant-points', {
    config: { access: PUBLIC },
    schema: {
      summary: 'Every plant of a year with coordinates, compact, for the plant map',
      description: 'points: [orispl, latitude, longitude, nameplate MW, fuel category, plant name, x, y]; x/y: map pixels of GET /api/v1/egrid/us-map ' +
        '(null outside Albers USA, e.g. territories). Same filters as /egrid/plants.',
      querystring: z.object({ year, ...plantFilter }),
      response: { 200: provenance.extend({ points: z.array(z.tuple([z.number(), z.number(), z.number(), nn, z.string().nullable(), z.string().nullable(), nn, nn])) }) },
    },
  }, async (req) => {
    const q = req.query;
    const y = await resolveYear(db, q.year);
    const filter: PlantFilter = { state: q.state, ba: q.ba, subregion: q.subregion, fuel: q.fuel, minMw: q.minMw, maxMw: q.maxMw };
    return cached(req, ['points', y.year, JSON.stringify(filter)], async () => {
      const points: Array<[number, number, number, number | null, string | null, string | null, number | null, number | null]> = [];
      for await (const chunk of streamPlants(db, y.year, filter, 'orispl', false, 5000)) {
        for (const p of chunk) {
          if (p.orispl === null || p.latitude === null || p.longitude === null) continue; // a map point is a located plant with its ORISPL
          const xy = projectPoint(p.longitude, p.latitude);
          points.push([p.orispl, p.latitude, p.longitude, p.nameplateMw, p.fuelCategory, p.plantName, xy?.[0] ?? null, xy?.[1] ?? null]);
        }
      }
      return { ...y, points };
    });
  });

  r.get('/api/v1/egrid/us-map', {
    config: { access: PUBLIC },
    schema: {
      summary: 'US state outlines as SVG paths for the plant map (us-atlas, Albers USA, 975 × 610 px)',
      response: { 200: z.object({ width: z.number(), height: z.number(), projection: z.string(), states: z.array(z.object({ id: z.string(), name: z.string(), d: z.string() })) }) },
    },
  }, async (_req, reply) => {
    reply.header('cache-control', 'public, max-age=86400');
    return { width: MAP_WIDTH, height: MAP_HEIGHT, projection: 'd3-geo geoAlbersUsa, scale 1300, translate [487.5, 305]', states: statePaths() };
  });

  r.get('/api/v1/egrid/plants/:orispl', {
    config: { access: PUBLIC },
    schema: {
      summary: 'One eGRID plant: its row for the year, its generators and units, and its history across the imported years',
      description: `${UNITS} A year without a plant sheet (GEN or UNT only) answers from those rows: \`plant\` then holds ORISPL, name, state, \`from\` (generators | units) and, from generators, the sums of nameplate MW and net generation MWh. history: one entry per imported year (oldest first) with generation, CO2 and its rate.`,
      params: z.object({ orispl: z.string().regex(/^\d{1,7}$/, 'an ORIS plant code (digits)').transform(Number) }),
      querystring: z.object({ year }),
      response: {
        200: provenance.extend({
          plant: z.record(z.string(), z.unknown()).describe('every stored column of the plant row (camelCase, units in the names)'),
          generators: z.array(z.record(z.string(), z.unknown())), units: z.array(z.record(z.string(), z.unknown())),
          history: z.array(z.object({ year: z.number(), nameplateMw: nn, netGenerationMwh: nn, co2ShortTons: nn, co2RateLbPerMwh: nn, primaryFuel: z.string().nullable() })),
        }),
      },
    },
  }, async (req) => {
    const orispl = req.params.orispl;
    const asked = req.query.year;
    if (asked !== undefined && !(await plantYears(db)).includes(asked)) {
      // a year imported from its generator or unit sheet only: the plant as those rows tell it
      return cached(req, ['plant-parts', asked, orispl], async () => {
        const [generators, units, history] = await Promise.all([listGenerators(db, asked, orispl), listUnits(db, asked, orispl), plantHistory(db, orispl)]);
        const first = generators[0] ?? units[0];
        if (!first) await resolveYear(db, asked); // 404 naming the years and sheets there are
        if (!first) throw new HttpProblem(404, `no plant with ORISPL ${orispl} in eGRID ${asked}`, 'orispl');
        const sum = (xs: readonly { [k: string]: unknown }[], k: string) => xs.reduce<number | null>((t, x) => (typeof x[k] === 'number' ? (t ?? 0) + (x[k] as number) : t), null);
        const plant = { dataYear: asked, orispl, plantName: first.plantName ?? null, state: first.state ?? null, from: generators.length ? 'generators' : 'units',
          nameplateMw: generators.length ? sum(generators as never, 'nameplateMw') : null, netGenerationMwh: generators.length ? sum(generators as never, 'netGenerationMwh') : null };
        return {
          year: asked, edition: `eGRID${asked}`, plant, generators: generators.map((g) => ({ ...g })), units: units.map((u) => ({ ...u })),
          history: history.map((h) => ({ year: h.dataYear, nameplateMw: h.nameplateMw, netGenerationMwh: h.netGenerationMwh, co2ShortTons: h.co2ShortTons, co2RateLbPerMwh: h.co2RateLbPerMwh, primaryFuel: h.primaryFuel })),
        };
      });
    }
    const y = await resolveYear(db, asked);
    return cached(req, ['plant', y.year, orispl], async () => {
      const plant = await getPlant(db, y.year, orispl);
      if (!plant) throw new HttpProblem(404, `no plant with ORISPL ${orispl} in eGRID ${y.year}`, 'orispl');
      const [generators, units, history] = await Promise.all([listGenerators(db, y.year, orispl), listUnits(db, y.year, orispl), plantHistory(db, orispl)]);
      return {
        ...y, plant: { ...plant }, generators: generators.map((g) => ({ ...g })), units: units.map((u) => ({ ...u })),
        history: history.map((h) => ({ year: h.dataYear, nameplateMw: h.nameplateMw, netGenerationMwh: h.netGenerationMwh, co2ShortTons: h.co2ShortTons, co2RateLbPerMwh: h.co2RateLbPerMwh, primaryFuel: h.primaryFuel })),
      };
    });
  });

  r.get('/api/v1/egrid/capacity', {
    config: { access: PUBLIC },
    schema: {
      summary: 'Nameplate capacity by generator fuel for a data year, summed from its generator sheet (GENyy)',
      description: 'MW of nameplate capacity (NAMEPCAP) and generator count per primary fuel (FUELG1, EIA energy source code), from the generator rows; '
        + 'answers for years imported from a generator sheet only, where plant aggregates (which need PLNT rows) are not available. '
        + 'Generators without a fuel are under `fuel: null`. 404 naming `year` when the year has no generator rows.',
      querystring: z.object({ year: queryInt(1996, 2100).describe('eGRID data year') }),
      response: { 200: z.object({ year: z.number(), source: z.literal('generators'), data: z.array(z.object({ fuel: z.string().nullable(), generators: z.number(), capacityMw: z.number() })) }) },
    },
  }, async (req) => {
    const year = req.query.year;
    return cached(req, ['capacity', year], async () => {
      const rows = await db.query<{ fuel: string | null; generators: number; mw: number | string | null }>(
        `SELECT primary_fuel AS fuel, count(*)::int AS generators, coalesce(sum(nameplate_mw), 0) AS mw FROM egrid_generators WHERE data_year = $1
         GROUP BY 1 ORDER BY 3 DESC, 1`, [year]);
      if (!rows.length) {
        const have = (await db.query<{ y: number }>('SELECT DISTINCT data_year AS y FROM egrid_generators ORDER BY 1 DESC')).map((x) => x.y).join(', ') || 'none';
        throw new HttpProblem(404, `no eGRID generator rows for ${year} (years with generators: ${have})`, 'year');
      }
      return { year, source: 'generators' as const, data: rows.map((x) => ({ fuel: x.fuel, generators: x.generators, capacityMw: Number(x.mw) })) };
    });
  });

  r.get('/api/v1/egrid/aggregates', {
    config: { access: PUBLIC },
    schema: {
      summary: 'eGRID aggregates computed from the plant rows (US, state, BA, subregion, NERC region or fuel category), beside EPA\'s published rows',
      description: `${UNITS} Non-baseload rates follow eGRID's capacity-factor weighting; input rates are lb/MMBtu of heat input. ` +
        'published / difference: EPA\'s own aggregate row for the key when that year\'s sheet for the level is imported, and (computed − EPA) / EPA.',
      querystring: z.object({ year, by: z.enum(AGGREGATE_BY).default('us'), format: z.enum(['json', 'csv', 'xlsx']).default('json') }),
      response: { 200: provenance.extend({ by: z.enum(AGGREGATE_BY), data: z.array(aggregateSchema.extend({ published: publishedSchema.nullable(), difference: z.record(z.string(), nn).nullable() })) }) },
    },
  }, async (req, reply) => {
    const y = await resolveYear(db, req.query.year);
    const by = req.query.by;
    const body = await cached(req, ['aggregates', y.year, by], async () => ({ ...y, by, data: await aggregatesOf(db, y.year, by) }));
    if (req.query.format === 'json') return body;
    const header = ['key', 'plants', 'capacity_mw', 'net_generation_mwh', 'co2_short_tons', 'co2_rate_lb_per_mwh', 'nox_rate_lb_per_mwh', 'so2_rate_lb_per_mwh',
      'nonbaseload_co2_rate_lb_per_mwh', 'co2_input_rate_lb_per_mmbtu', ...EGRID_MIX_FUELS.map((f) => `mix_${f}`), 'epa_co2_rate_lb_per_mwh', 'co2_rate_difference'];
    const rows = body.data.map((a) => [a.key, a.plants, a.capacityMw, a.netGenerationMwh, a.co2Tons, a.co2Rate, a.noxRate, a.so2Rate, a.nonBaseload.co2Rate, a.co2InputRate,
      ...EGRID_MIX_FUELS.map((f) => a.mix[f].share), a.published?.co2Rate, a.difference?.co2Rate]);
    const name = `egrid-${y.year}-aggregates-${by}`;
    if (req.query.format === 'xlsx') return sendDownload(reply, 'xlsx', name, await safeXlsx([{ name: `${by} ${y.year}`, header, rows }]));
    return sendDownload(reply, 'csv', name, safeCsv(header, rows));
  });

  r.get('/api/v1/egrid/emission-factors', {
    config: { access: PUBLIC },
    schema: {
      summary: 'eGRID-derived CO2 emission factors per BA and EIA-930 fuel code (kg/MWh = gCO2/kWh), the factor set egrid-YYYY of the intensity endpoints',
      description: 'Generation-weighted CO2 output rate of the BA\'s plants of each fuel (2,000 × Σ tons / Σ MWh lb/MWh, × 0.4536 → kg/MWh), ' +
        'plants counted under their primary fuel category, only plants with positive net generation. Direct (stack) CO2, not lifecycle. ' +
        `In factors=egrid-YYYY a fuel the BA has no eGRID plants of takes the ${FALLBACK_SET} factor, named in the answer's fellBack.`,
      querystring: z.object({ year, ba: code('BA').optional() }),
      response: {
        200: provenance.extend({
          fuels: z.array(z.enum(EGRID_FACTOR_FUELS)), fallbackSet: z.literal(FALLBACK_SET), unit: z.literal('kg/MWh'),
          data: z.array(z.object({ ba: z.string(), factors: z.array(z.object({ fuel: z.string(), value: z.number().describe('kg/MWh'), lbPerMwh: z.number(), plants: z.number(), generationMwh: z.number(), co2Tons: z.number() })) })),
        }),
      },
    },
  }, async (req) => {
    const y = await resolveYear(db, req.query.year);
    const ba = req.query.ba?.toUpperCase();
    return cached(req, ['factors', y.year, ba], async () => {
      const data = await emissionFactorsOf(db, y.year, ba);
      if (ba && data.length === 0) throw new HttpProblem(404, `no eGRID ${y.year} plants with generation in BA '${ba}'`, 'ba');
      return { ...y, fuels: [...EGRID_FACTOR_FUELS], fallbackSet: FALLBACK_SET, unit: 'kg/MWh' as const, data };
    });
  });

  r.get('/api/v1/egrid/top-emitters', {
    config: { access: PUBLIC },
    schema: {
      summary: 'The plants emitting most of a pollutant in a year, nationally or within one region',
      description: 'tons: short tons of the pollutant; rateLbPerMwh: 2,000 × tons / net MWh. by+code restrict to one state, BA, subregion, NERC region or fuel category.',
      querystring: z.object({ year, pollutant: z.enum(POLLUTANTS).default('co2'), by: z.enum(AGGREGATE_BY).optional(), code: code('region').optional(), limit: queryInt(1, 100).default(10) }),
      response: { 200: provenance.extend({ pollutant: z.enum(POLLUTANTS), data: z.array(z.object({ orispl: z.number().nullable(), plantName: z.string().nullable(), state: z.string().nullable(), baCode: z.string().nullable(), subregion: z.string().nullable(), fuelCategory: z.string().nullable(), tons: z.number(), rateLbPerMwh: nn, netGenerationMwh: nn })) }) },
    },
  }, async (req) => {
    const q = req.query;
    if ((q.by === undefined) !== (q.code === undefined) && q.by !== 'us') throw new HttpProblem(400, 'by and code go together', q.by ? 'code' : 'by');
    const y = await resolveYear(db, q.year);
    return cached(req, ['top', y.year, q.pollutant, q.by, q.code, q.limit], async () => ({ ...y, pollutant: q.pollutant, data: topEmitters(await plantFigures(db, y.year), q.pollutant, q.limit, q.by, q.code) }));
  });

  r.get('/api/v1/egrid/rate-distribution', {
    config: { access: PUBLIC },
    schema: {
      summary: 'Distribution of plant emission rates (lb/MWh) by fuel category',
      description: 'Per eGRID fuel category, over plants with positive net generation and a known mass: quantiles of the plant output rates (linear interpolation) and the generation-weighted rate.',
      querystring: z.object({ year, pollutant: z.enum(POLLUTANTS).default('co2') }),
      response: { 200: provenance.extend({ pollutant: z.enum(POLLUTANTS), unit: z.literal('lb/MWh'), data: z.array(z.object({ fuelCategory: z.string(), plants: z.number(), generationMwh: z.number(), weightedRate: nn, p10: z.number(), p25: z.number(), median: z.number(), p75: z.number(), p90: z.number(), min: z.number(), max: z.number() })) }) },
    },
  }, async (req) => {
    const y = await resolveYear(db, req.query.year);
    return cached(req, ['dist', y.year, req.query.pollutant], async () => ({ ...y, pollutant: req.query.pollutant, unit: 'lb/MWh' as const, data: rateDistribution(await plantFigures(db, y.year), req.query.pollutant) }));
  });

  const side = z.object({ netGenerationMwh: nn, co2Tons: nn, co2Rate: nn, capacityMw: nn }).nullable();
  r.get('/api/v1/egrid/changes', {
    config: { access: PUBLIC },
    schema: {
      summary: 'Year-over-year change per plant or per region between two imported eGRID years',
      description: 'from/to: the figures of each year (MWh, short tons, lb/MWh, MW); *Change: (to − from) / from. by=plant keys by ORISPL; code restricts to one plant or region.',
      querystring: z.object({ from: queryInt(1996, 2100), to: queryInt(1996, 2100), by: z.enum([...AGGREGATE_BY, 'plant']).default('us'), code: code('plant or region').optional() }),
      response: { 200: z.object({ from: z.number(), to: z.number(), by: z.string(), data: z.array(z.object({ key: z.string(), name: z.string().nullable(), from: side, to: side, co2RateChange: nn, co2TonsChange: nn, generationChange: nn })) }) },
    },
  }, async (req) => {
    const q = req.query;
    await resolveYear(db, q.from).catch((e: unknown) => { throw e instanceof HttpProblem ? new HttpProblem(404, e.message, 'from') : e; });
    await resolveYear(db, q.to).catch((e: unknown) => { throw e instanceof HttpProblem ? new HttpProblem(404, e.message, 'to') : e; });
    return cached(req, ['changes', q.from, q.to, q.by, q.code], async () => ({ from: q.from, to: q.to, by: q.by, data: await changes(db, q.from, q.to, q.by as AggregateBy | 'plant', q.code) }));
  });

  r.get('/api/v1/egrid/compare', {
    config: { access: PUBLIC },
    schema: {
      summary: 'Power-Profiler-style comparison of a subregion, BA or state with the US average',
      description: `${UNITS} ratioToUs: the region's rate / the US rate (above 1 = dirtier than the US average).`,
      querystring: z.object({ year, level: z.enum(['subregion', 'ba', 'state']).default('subregion'), code: code('region') }),
      response: { 200: provenance.extend({ level: z.string(), region: aggregateSchema, us: aggregateSchema, ratioToUs: z.record(z.string(), nn) }) },
    },
  }, async (req) => {
    const y = await resolveYear(db, req.query.year);
    return cached(req, ['compare', y.year, req.query.level, req.query.code.toUpperCase()], async () => ({ ...y, level: req.query.level, ...await compareWithUs(db, y.year, req.query.level, req.query.code) }));
  });

  r.get('/api/v1/egrid/reports/:level/:code', {
    config: { access: PUBLIC },
    schema: {
      summary: 'The data of a printable eGRID report for a state, BA or subregion (JSON), or its tables as CSV or XLSX',
      description: `${UNITS} mix, emission rates against the US, top CO2 emitters and the plants with coordinates for the report's map.`,
      params: z.object({ level: z.enum(REPORT_LEVELS), code: code('region') }),
      querystring: z.object({ year, format: z.enum(['json', 'csv', 'xlsx']).default('json'), table: z.enum(REPORT_TABLES).default('rates').describe('format=csv: which table (XLSX has every table as a sheet)') }),
      response: {
        200: provenance.extend({
          level: z.enum(REPORT_LEVELS), code: z.string(), plants: z.number(), capacityMw: z.number(), netGenerationMwh: z.number(), co2Tons: z.number(),
          rates: z.array(z.object({ pollutant: z.enum(POLLUTANTS), region: nn, us: nn, ratio: nn, nonBaseloadRegion: nn, nonBaseloadUs: nn })).describe('lb/MWh'),
          mix: z.array(z.object({ fuel: z.enum(EGRID_MIX_FUELS), mwh: z.number(), share: nn, usShare: nn })),
          topEmitters: z.array(z.object({ orispl: z.number().nullable(), plantName: z.string().nullable(), state: z.string().nullable(), baCode: z.string().nullable(), subregion: z.string().nullable(), fuelCategory: z.string().nullable(), tons: z.number(), rateLbPerMwh: nn, netGenerationMwh: nn })),
          points: z.array(z.tuple([z.number(), z.number(), z.number(), nn, z.string().nullable(), z.string().nullable(), nn, nn])),
        }),
      },
    },
  }, async (req, reply) => {
    const y = await resolveYear(db, req.query.year);
    const { level } = req.params;
    const regionCode = req.params.code.toUpperCase();
    const report = await cached(req, ['report', y.year, level, regionCode], async () => egridReport(await plantFigures(db, y.year), y, level, regionCode));
    const name = `egrid-${y.year}-${level}-${regionCode}`;
    if (req.query.format === 'json') return report;
    const sheets = reportSheets(report);
    if (req.query.format === 'xlsx') return sendDownload(reply, 'xlsx', name, await safeXlsx(REPORT_TABLES.map((t) => sheets[t])));
    const t = sheets[req.query.table];
    return sendDownload(reply, 'csv', `${name}-${req.query.table}`, safeCsv(t.header, t.rows));
  });
}
