import type { FastifyInstance } from 'fastify';
import { FRESHNESS_STATUSES } from '../../grid/freshness.ts';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Logger } from 'pino';
import type { Db } from '../../platform/db.ts';
import type { Cache } from '../../platform/cache.ts';
import { ALL_BAS, analyticsKey, dataTtlSeconds, subscribeInvalidation, type Listenable } from '../shared/analytics-cache.ts';
import { FACTOR_SETS, FUELS, defaultFactor, factorTable, loadFactorOverrides, STORAGE_RULE } from './factors.ts';
import { loadBaHours } from '../shared/hourly.ts';
import { hourlyIntensity, INTENSITY_FLAGS, INTENSITY_UNIT, type IntensitySeries } from './intensity.ts';
import { allNow, baNow, generationFreshness } from './now.ts';
import { getBa } from '../../grid/ba-repository.ts';
import { METHODOLOGY } from '../shared/methodology.ts';
import { memoFillState } from '../../ingest/fill-state.ts';
import { EGRID_SET_PATTERN, resolveFactorChoice, type EgridProvenance } from '../../egrid/egrid-factor-set.ts';
import { storeVersion } from '../../egrid/egrid-analytics-repository.ts';
import { codeParams, envelope, generationTtl, isoInstant, nullableNumber, rangeOf, routeAnswer, sendCsv, source, toCsv, unknownBa, iso, rangeKey } from '../shared/route-support.ts';

export interface CarbonDeps { db: Db; cache: Cache; logger: Logger }

/** Longest ranges per request: consumption-based answers trace every BA for every hour of the range. */
export const MAX_DAYS = { production: 366, consumption: 31 } as const;
const freshness = z.object({ status: z.enum(FRESHNESS_STATUSES).describe('fresh, late or stale against EIA\'s usual delay; retired for a BA past its EIA-930 retirement'), lagMinutes: z.number().nullable().describe('minutes since the newest hour ended') });

/** lifecycle, direct, or egrid-YYYY (factors from that eGRID year's plants; GET /api/v1/egrid/emission-factors). */
export const factorChoice = z.string().regex(/^(lifecycle|direct|egrid-\d{4})$/, 'lifecycle, direct or egrid-YYYY (an imported eGRID year)')
  .describe('emission factor set: lifecycle (IPCC 2014), direct (combustion), or egrid-YYYY: per-BA CO2 factors from that eGRID year\'s plants, ' +
    'falling back per fuel to lifecycle where the BA has no eGRID plants of the fuel (named in egrid.fellBack)');
export const egridProvenance = z.object({
  set: z.string(), edition: z.string().describe('eGRID edition the factors come from'), fallbackSet: z.literal('lifecycle'),
  fellBack: z.array(z.string()).describe('EIA-930 fuel codes of this BA that took the lifecycle factor: no eGRID plants of that fuel in the BA'),
}).nullable().describe('null unless factors=egrid-YYYY');

/** The cache-key part of a factors choice: an eGRID set's answers change with the eGRID store. */
async function factorsKey(db: Db, factors: string): Promise<string> {
  return EGRID_SET_PATTERN.test(factors) ? `${factors}@${await storeVersion(db)}` : factors;
}

/** The flags of one intensity value: what its inputs lack. */
export const intensityFlags = z.array(z.enum(INTENSITY_FLAGS)).describe(`${METHODOLOGY.flags} ${METHODOLOGY.expected}`);

export async function intensityRoutes(app: FastifyInstance, deps: CarbonDeps): Promise<void> {
  const { db, cache } = deps;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const answer = routeAnswer(cache);
  const fillState = memoFillState(db);

  if ('listen' in db) {
    const unlisten = await subscribeInvalidation(db as Db & Listenable, cache, deps.logger);
    app.addHook('onClose', async () => { await unlisten(); });
  }

  r.get('/api/v1/emission-factors', {
    config: { access: { public: true } },
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
    config: { access: { public: true } },
    schema: {
      summary: 'Hourly carbon intensity of a BA (gCO2eq/kWh), production- or consumption-based; JSON or CSV',
      description: `basis=production: ${METHODOLOGY.production} basis=consumption: ${METHODOLOGY.consumption} ${METHODOLOGY.envelope} ` +
        `Ranges: up to ${MAX_DAYS.production} days for production, ${MAX_DAYS.consumption} for consumption; default the last 48 hours.`,
      params: codeParams,
      querystring: z.object({
        from: isoInstant.optional(), to: isoInstant.optional(),
        basis: z.enum(['production', 'consumption']).default('consumption'),
        factors: factorChoice.default('lifecycle'),
        format: z.enum(['json', 'csv']).default('json'),
      }),
      response: {
        200: z.object({
          ...envelope, basis: z.enum(['production', 'consumption']), factors: z.string(), egrid: egridProvenance, unit: z.literal(INTENSITY_UNIT),
          points: z.array(z.object({ ts: z.string(), value: nullableNumber.describe('gCO2eq/kWh'), flags: intensityFlags })),
        }),
      },
    },
  }, async (req, reply) => {
    const { basis, factors, format } = req.query;
    const range = rangeOf(req.query, MAX_DAYS[basis]);
    const ba = req.params.code.toUpperCase();
    const body = await answer(req, analyticsKey(ba, 'intensity', basis, await factorsKey(db, factors), rangeKey(range)), (v) => generationTtl(v.dataThrough, range.to), async () => {
      const set = await resolveFactorChoice(db, factors, ba);
      const s = await hourlyIntensity(db, ba, range.from, range.to, basis, set.base, set.overrides && { name: factors, overrides: set.overrides });
      if (!s) throw unknownBa(req.params.code);
      return intensityBody(s, set.provenance);
    });
    if (format === 'csv') return sendCsv(reply, `${ba}-intensity-${basis}`, toCsv(['ts', `intensity_${factors}_gco2eq_per_kwh`, 'flags'], body.points.map((p) => [p.ts, p.value, p.flags.join(';')])));
    return body;
  });

  r.get('/api/v1/bas/:code/hourly', {
    config: { access: { public: true } },
    schema: {
      summary: 'Chart data of a BA, column-oriented: demand, forecast, net generation, generation by fuel, interchange, both intensities',
      description: 'All arrays align with `ts` (UTC hour starts); missing hours are null. Power in MW (EIA-930 MWh per hour). ' +
        'interchange: MW per neighbour, positive = export from this BA. intensity: gCO2eq/kWh, with the factors asked (lifecycle by default); ' +
        `production: ${METHODOLOGY.production} consumption: ${METHODOLOGY.consumption} ${METHODOLOGY.envelope} ` +
        `Range up to ${MAX_DAYS.consumption} days, default the last 48 hours. format=csv gives one row per hour.`,
      params: codeParams,
      querystring: z.object({ from: isoInstant.optional(), to: isoInstant.optional(), factors: factorChoice.default('lifecycle'), format: z.enum(['json', 'csv']).default('json') }),
      response: {
        200: z.object({
          ...envelope, timeZone: z.string(), ts: z.array(z.string()), factors: z.string(), egrid: egridProvenance,
          demand: z.array(nullableNumber), forecast: z.array(nullableNumber), netGeneration: z.array(nullableNumber),
          fuels: z.record(z.string(), z.array(nullableNumber)), interchange: z.record(z.string(), z.array(nullableNumber)),
          intensity: z.object({
            production: z.array(nullableNumber), consumption: z.array(nullableNumber), unit: z.literal(INTENSITY_UNIT),
            flags: z.object({ production: z.array(intensityFlags), consumption: z.array(intensityFlags) }).describe('per hour, aligned with ts: what each value\'s inputs lack'),
          }),
        }),
      },
    },
  }, async (req, reply) => {
    const range = rangeOf(req.query, MAX_DAYS.consumption);
    const ba = req.params.code.toUpperCase();
    const { factors } = req.query;
    const body = await answer(req, analyticsKey(ba, 'hourly', await factorsKey(db, factors), rangeKey(range)), (v) => dataTtlSeconds({ dataThrough: v.dataThrough, to: range.to }), async () => {
      const hours = await loadBaHours(db, ba, range.from, range.to);
      if (!hours) throw unknownBa(req.params.code);
      const set = await resolveFactorChoice(db, factors, ba);
      const named = set.overrides && { name: factors, overrides: set.overrides };
      const [production, consumption] = await Promise.all([
        hourlyIntensity(db, ba, range.from, range.to, 'production', set.base, named),
        hourlyIntensity(db, ba, range.from, range.to, 'consumption', set.base, named),
      ]);
      return {
        ba, source: hours.source, dataThrough: iso(hours.dataThrough), generatedAt: new Date().toISOString(),
        timeZone: hours.ba.timeZone, ts: hours.ts.map((t) => t.toISOString()), factors, egrid: set.provenance,
        demand: hours.demand, forecast: hours.forecast, netGeneration: hours.netGeneration, fuels: hours.fuels, interchange: hours.interchange,
        intensity: {
          production: production!.points.map((p) => p.value), consumption: consumption!.points.map((p) => p.value), unit: INTENSITY_UNIT,
          flags: { production: production!.points.map((p) => p.flags), consumption: consumption!.points.map((p) => p.flags) },
        },
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
    config: { access: { public: true } },
    schema: {
      summary: "What's Powering Me: the BA's newest hour with fuel data",
      description: 'mix: MW per fuel and share of positive generation (0–1). ' + METHODOLOGY.shares +
        ` intensity: production and consumption based, gCO2eq/kWh, with the factors asked (lifecycle by default). ${METHODOLOGY.production} ${METHODOLOGY.consumption} ` +
        'imports: MW per neighbour, positive = into this BA (from this BA\'s own interchange reports). freshness: of the newest generation hour. ' +
        'intensity.flags: what each value\'s inputs lack at `hour`; consumption is null with interchange-missing when the hour\'s interchange is not ' +
        'published yet (EIA publishes it later than generation), and latestConsumption then gives the newest hour that has it (else null). ' +
        `hour is null for a BA without any data. ${METHODOLOGY.envelope}`,
      params: codeParams,
      querystring: z.object({ factors: factorChoice.default('lifecycle') }),
      response: {
        200: z.object({
          ...envelope, factors: z.string(), egrid: egridProvenance, hour: z.string().nullable(), demandMw: nullableNumber, netGenerationMw: nullableNumber,
          mix: z.array(z.object({ fuel: z.string(), name: z.string(), mw: nullableNumber, share: nullableNumber })),
          renewableShare: nullableNumber, carbonFreeShare: nullableNumber,
          intensity: z.object({
            production: nullableNumber, consumption: nullableNumber, unit: z.literal(INTENSITY_UNIT),
            flags: z.object({ production: intensityFlags, consumption: intensityFlags }),
          }),
          latestConsumption: z.object({ hour: z.string(), value: nullableNumber, flags: intensityFlags }).nullable()
            .describe('when consumption at `hour` waits for interchange: the newest hour whose interchange is published, gCO2eq/kWh'),
          imports: z.array(z.object({ ba: z.string(), mw: z.number() })), freshness,
        }),
      },
    },
  }, async (req) => {
    const ba = req.params.code.toUpperCase();
    const { factors } = req.query;
    return answer(req, analyticsKey(ba, 'now', await factorsKey(db, factors)), (v) => generationTtl(v.dataThrough), async () => {
      if (!(await getBa(db, ba))) throw unknownBa(req.params.code);
      const set = await resolveFactorChoice(db, factors, ba);
      const now = await baNow(db, ba, generationFreshness, new Date(), set);
      if (!now) throw unknownBa(req.params.code);
      return { ...now, factors, egrid: set.provenance };
    });
  });

  r.get('/api/v1/now', {
    config: { access: { public: true } },
    schema: {
      summary: 'Every active BA at its newest hour: consumption- and production-based intensity, demand, renewable share, freshness',
      description: 'For the home page; computed in a handful of queries for all BAs and cached until new hours arrive. ' +
        `intensity: consumption-based, gCO2eq/kWh, with the factors asked (lifecycle by default; with egrid-YYYY, egrid.fellBack is empty here: ` +
        `each BA's fallbacks are in /api/v1/bas/{code}/now) (${METHODOLOGY.consumption}) productionIntensity: ${METHODOLOGY.production} ` +
        `renewableShare: ${METHODOLOGY.shares} hour: the BA's newest hour with fuel data; dataThrough: its newest observed hour of any series (non-null values; day-ahead forecasts excluded). ` +
        'intensityFlags / productionFlags: what each value\'s inputs lack at `hour`; intensity is null with interchange-missing while the hour\'s interchange is not published yet.',
      querystring: z.object({ factors: factorChoice.default('lifecycle') }),
      response: {
        200: z.object({
          generatedAt: z.string(), stale: z.boolean(), factors: z.string(), egrid: egridProvenance,
          filling: z.boolean().describe('true while the store is still filling (the first fill, or a catch-up): BAs may lack hours yet; see /api/v1/pipeline/state'),
          data: z.array(z.object({
            ba: z.string(), name: z.string(), region: z.string(), interconnection: z.string(), timeZone: z.string(), hour: z.string().nullable(),
            intensity: nullableNumber, productionIntensity: nullableNumber, intensityFlags, productionFlags: intensityFlags,
            demandMw: nullableNumber, renewableShare: nullableNumber,
            source, dataThrough: z.string().nullable(), freshness,
          })),
        }),
      },
    },
  }, async (req) => {
    const { factors } = req.query;
    const [now, state] = await Promise.all([
      answer(req, analyticsKey(ALL_BAS, 'now', await factorsKey(db, factors)), (v) => generationTtl(newestOf(v.data.map((d) => d.hour))), async () => {
        const set = await resolveFactorChoice(db, factors);
        return { ...await allNow(db, generationFreshness, new Date(), set), factors, egrid: set.provenance };
      }),
      fillState()]);
    return { ...now, filling: state.filling };
  });

}

function newestOf(hours: ReadonlyArray<string | null>): string | null {
  return hours.reduce<string | null>((a, h) => (h !== null && (a === null || h > a) ? h : a), null);
}

function intensityBody(s: IntensitySeries, egrid: EgridProvenance | null) {
  return {
    ba: s.ba, source: s.source, dataThrough: iso(s.dataThrough), generatedAt: new Date().toISOString(),
    basis: s.basis, factors: s.factors, egrid, unit: s.unit,
    points: s.points.map((p) => ({ ts: p.ts.toISOString(), value: p.value, flags: p.flags })),
  };
}

