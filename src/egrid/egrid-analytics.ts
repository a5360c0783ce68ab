import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { quantile } from '../analytics/forecast/forecast-model.ts';
import { aggregatePlants, levelKey, outputRate, relativeDifference, type Aggregate, type AggregateBy, type PlantFigures } from './egrid-rates.ts';
import { listAggregates, type EgridAggregate } from './egrid-repository.ts';
import { plantEditions, plantFigures } from './egrid-analytics-repository.ts';
import { baEmissionFactors } from './emission-factors.ts';

/** The eGRID analytics answers, computed from the stored plant rows (see egrid-rates.ts for the arithmetic). */

export const POLLUTANTS = ['co2', 'nox', 'so2'] as const;
export type Pollutant = typeof POLLUTANTS[number];
const TONS = { co2: 'co2ShortTons', nox: 'noxShortTons', so2: 'so2ShortTons' } as const satisfies Record<Pollutant, keyof PlantFigures>;

/** The sheets (kinds) imported for a data year, with their row counts, from egrid_datasets. */
export async function yearSheets(db: Db, year: number): Promise<{ kind: string; rows: number }[]> {
  return (await db.query<{ kind: string; rows: number }>('SELECT kind, row_count::int AS rows FROM egrid_datasets WHERE data_year = $1 ORDER BY kind', [year]));
}

/** The data year asked for, or the newest with plants; 404 naming the years there are (and the sheets a year without plants has). */
export async function resolveYear(db: Db, year: number | undefined): Promise<{ year: number; edition: string }> {
  const editions = await plantEditions(db);
  const years = editions.length ? editions : (await db.query<{ year: number }>('SELECT DISTINCT data_year AS year FROM egrid_plants ORDER BY 1 DESC')).map((r) => ({ year: r.year, edition: `eGRID${r.year}`, plants: 0 }));
  const hit = year === undefined ? years[0] : years.find((e) => e.year === year);
  if (!hit) {
    const have = years.map((e) => e.year).join(', ') || 'none';
    // a year imported from other sheets only (GEN23, UNT21) is named with what it has
    const sheets = year === undefined ? [] : await yearSheets(db, year);
    const capacity = sheets.some((k) => k.kind === 'generator') ? `; capacity by fuel from its generators: GET /api/v1/egrid/capacity?year=${year}` : '';
    const other = sheets.length ? `; ${year} has only ${sheets.map((k) => `${k.kind} (${k.rows} rows)`).join(', ')}, and plant figures come from a PLNT sheet${capacity}` : '';
    throw new HttpProblem(404, year === undefined ? 'no eGRID plant data is imported yet' : `no eGRID plant data for ${year} (years with plant data: ${have}${other})`, 'year');
  }
  return { year: hit.year, edition: hit.edition };
}

/** EPA's published figures of one aggregate row, in the computed answer's terms. */
export interface Published { netGenerationMwh: number | null; co2Tons: number | null; co2Rate: number | null; noxRate: number | null; so2Rate: number | null; nonBaseloadCo2Rate: number | null }

const published = (a: EgridAggregate): Published => ({
  netGenerationMwh: a.netGenerationMwh, co2Tons: a.co2ShortTons, co2Rate: a.co2RateLbPerMwh, noxRate: a.noxRateLbPerMwh, so2Rate: a.so2RateLbPerMwh,
  nonBaseloadCo2Rate: a.nonbaseloadCo2RateLbPerMwh,
});

export interface AggregateAnswer extends Aggregate {
  /** EPA's own row for this key, when its aggregate sheet for the year and level is imported. */
  published: Published | null;
  /** (computed − EPA) / EPA per figure; null where either side is missing. */
  difference: Record<keyof Published, number | null> | null;
}

/** Aggregates of a year at one level, each beside EPA's published row when there is one. */
export async function aggregatesOf(db: Db, year: number, by: AggregateBy, plants?: PlantFigures[]): Promise<AggregateAnswer[]> {
  const computed = aggregatePlants(plants ?? await plantFigures(db, year), by);
  const epa = by === 'fuel' ? [] : await listAggregates(db, year, by);
  const byCode = new Map(epa.map((a) => [a.code, published(a)]));
  return computed.map((a) => {
    const p = byCode.get(a.key) ?? null;
    const ours: Published = { netGenerationMwh: a.netGenerationMwh, co2Tons: a.co2Tons, co2Rate: a.co2Rate, noxRate: a.noxRate, so2Rate: a.so2Rate, nonBaseloadCo2Rate: a.nonBaseload.co2Rate };
    const difference = p && Object.fromEntries(Object.keys(ours).map((k) => [k, relativeDifference(ours[k as keyof Published], p[k as keyof Published])])) as AggregateAnswer['difference'];
    return { ...a, published: p, difference };
  });
}

export interface Emitter { orispl: number | null; plantName: string | null; state: string | null; baCode: string | null; subregion: string | null; fuelCategory: string | null; tons: number; rateLbPerMwh: number | null; netGenerationMwh: number | null }

/** The plants emitting most of a pollutant (short tons), within one region when `by`/`code` are given. */
export function topEmitters(plants: readonly PlantFigures[], pollutant: Pollutant, limit: number, by?: AggregateBy, code?: string): Emitter[] {
  const col = TONS[pollutant];
  return plants
    .filter((p) => (p[col] ?? 0) > 0 && (!by || !code || levelKey(p, by)?.toUpperCase() === code.toUpperCase()))
    .sort((a, b) => (b[col] ?? 0) - (a[col] ?? 0) || (a.orispl ?? Infinity) - (b.orispl ?? Infinity))
    .slice(0, limit)
    .map((p) => ({ orispl: p.orispl, plantName: p.plantName, state: p.state, baCode: p.baCode, subregion: p.subregion, fuelCategory: p.fuelCategory,
      tons: p[col]!, rateLbPerMwh: outputRate(p[col], p.netGenerationMwh), netGenerationMwh: p.netGenerationMwh }));
}

export interface RateDistribution { fuelCategory: string; plants: number; generationMwh: number; weightedRate: number | null; p10: number; p25: number; median: number; p75: number; p90: number; min: number; max: number }

/**
 * Per fuel category, the spread of plant output rates (lb/MWh) of plants with positive generation:
 * quantiles over plants (linear interpolation) and the generation-weighted rate of the category.
 */
export function rateDistribution(plants: readonly PlantFigures[], pollutant: Pollutant): RateDistribution[] {
  const col = TONS[pollutant];
  const groups = new Map<string, { rates: number[]; gen: number; tons: number }>();
  for (const p of plants) {
    const rate = outputRate(p[col], p.netGenerationMwh);
    if (rate === null || !p.fuelCategory) continue;
    const g = groups.get(p.fuelCategory) ?? { rates: [], gen: 0, tons: 0 };
    g.rates.push(rate); g.gen += p.netGenerationMwh!; g.tons += p[col]!;
    groups.set(p.fuelCategory, g);
  }
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([fuelCategory, g]) => ({
    fuelCategory, plants: g.rates.length, generationMwh: g.gen, weightedRate: outputRate(g.tons, g.gen),
    p10: quantile(g.rates, 0.1), p25: quantile(g.rates, 0.25), median: quantile(g.rates, 0.5), p75: quantile(g.rates, 0.75), p90: quantile(g.rates, 0.9),
    min: Math.min(...g.rates), max: Math.max(...g.rates),
  }));
}

export interface Change { key: string; name: string | null; from: ChangeSide | null; to: ChangeSide | null; co2RateChange: number | null; co2TonsChange: number | null; generationChange: number | null }
interface ChangeSide { netGenerationMwh: number | null; co2Tons: number | null; co2Rate: number | null; capacityMw: number | null }

const relChange = (a: number | null | undefined, b: number | null | undefined) => (a === null || a === undefined || b === null || b === undefined ? null : relativeDifference(b, a));

/**
 * Year-over-year: per plant (by=plant, keyed by ORISPL) or per region, the figures of `from` and `to` and the
 * relative change (to − from) / from. A plant or region missing in one year has that side null.
 */
export async function changes(db: Db, fromYear: number, toYear: number, by: AggregateBy | 'plant', code?: string): Promise<Change[]> {
  const [a, b] = await Promise.all([plantFigures(db, fromYear), plantFigures(db, toYear)]);
  const sides = (plants: PlantFigures[]): Map<string, ChangeSide & { name: string | null }> => by === 'plant'
    ? new Map(plants.map((p) => [String(p.orispl), { name: p.plantName, netGenerationMwh: p.netGenerationMwh, co2Tons: p.co2ShortTons, co2Rate: outputRate(p.co2ShortTons, p.netGenerationMwh), capacityMw: p.nameplateMw }]))
    : new Map(aggregatePlants(plants, by).map((g) => [g.key, { name: null, netGenerationMwh: g.netGenerationMwh, co2Tons: g.co2Tons, co2Rate: g.co2Rate, capacityMw: g.capacityMw }]));
  const filterPlants = (plants: PlantFigures[]) => (by === 'plant' && code ? plants.filter((p) => String(p.orispl) === code) : plants);
  const [sa, sb] = [sides(filterPlants(a)), sides(filterPlants(b))];
  const keys = [...new Set([...sa.keys(), ...sb.keys()])].filter((k) => by === 'plant' || !code || k === code.toUpperCase());
  return keys.sort((x, y) => (by === 'plant' ? Number(x) - Number(y) : x.localeCompare(y))).map((key) => {
    const f = sa.get(key), t = sb.get(key);
    const strip = (s: typeof f): ChangeSide | null => (s ? { netGenerationMwh: s.netGenerationMwh, co2Tons: s.co2Tons, co2Rate: s.co2Rate, capacityMw: s.capacityMw } : null);
    return { key, name: t?.name ?? f?.name ?? null, from: strip(f), to: strip(t),
      co2RateChange: relChange(f?.co2Rate, t?.co2Rate), co2TonsChange: relChange(f?.co2Tons, t?.co2Tons), generationChange: relChange(f?.netGenerationMwh, t?.netGenerationMwh) };
  });
}

/** Power-Profiler-style: a subregion's or BA's rates and mix beside the US's, with ratios region / US. */
export async function compareWithUs(db: Db, year: number, level: 'subregion' | 'ba' | 'state', code: string) {
  const plants = await plantFigures(db, year);
  const [us] = aggregatePlants(plants, 'us');
  const region = aggregatePlants(plants, level).find((a) => a.key === code.toUpperCase());
  if (!region || !us) throw new HttpProblem(404, `no eGRID ${year} plants in ${level} '${code}'`, 'code');
  const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : a / b);
  return {
    region, us,
    ratioToUs: {
      co2Rate: ratio(region.co2Rate, us.co2Rate), noxRate: ratio(region.noxRate, us.noxRate), so2Rate: ratio(region.so2Rate, us.so2Rate),
      nonBaseloadCo2Rate: ratio(region.nonBaseload.co2Rate, us.nonBaseload.co2Rate),
    },
  };
}

/** eGRID emission factors of a year, of one BA when given. */
export async function emissionFactorsOf(db: Db, year: number, ba?: string) {
  const all = baEmissionFactors(await plantFigures(db, year));
  return ba ? all.filter((b) => b.ba === ba.toUpperCase()) : all;
}
