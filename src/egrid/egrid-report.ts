import { HttpProblem } from '../platform/problem.ts';
import { aggregatePlants, EGRID_MIX_FUELS, levelKey, type Aggregate, type EgridMixFuel, type PlantFigures } from './egrid-rates.ts';
import { POLLUTANTS, topEmitters, type Emitter, type Pollutant } from './egrid-analytics.ts';
import type { Sheet } from './spreadsheet-safe.ts';
import { projectPoint } from './us-map.ts';

/** A printable eGRID report of one state, BA or subregion: its mix, its rates against the US, top emitters, its plants for a map. */

export const REPORT_LEVELS = ['state', 'ba', 'subregion'] as const;
export type ReportLevel = typeof REPORT_LEVELS[number];
export const REPORT_TABLES = ['rates', 'mix', 'emitters', 'plants'] as const;
export type ReportTable = typeof REPORT_TABLES[number];

export interface EgridReport {
  year: number; edition: string; level: ReportLevel; code: string;
  plants: number; capacityMw: number; netGenerationMwh: number; co2Tons: number;
  /** lb/MWh of the region and the US, and region / US */
  rates: Array<{ pollutant: Pollutant; region: number | null; us: number | null; ratio: number | null; nonBaseloadRegion: number | null; nonBaseloadUs: number | null }>;
  /** share 0–1 of net generation, region and US */
  mix: Array<{ fuel: EgridMixFuel; mwh: number; share: number | null; usShare: number | null }>;
  topEmitters: Emitter[];
  /** [orispl, latitude, longitude, nameplate MW, fuel category, name, map x, map y] (map pixels of us-map.ts; null outside it) */
  points: Array<[number, number, number, number | null, string | null, string | null, number | null, number | null]>;
}

const rateOf = (a: Aggregate, p: Pollutant) => (p === 'co2' ? a.co2Rate : p === 'nox' ? a.noxRate : a.so2Rate);
const nbOf = (a: Aggregate, p: Pollutant) => (p === 'co2' ? a.nonBaseload.co2Rate : p === 'nox' ? a.nonBaseload.noxRate : a.nonBaseload.so2Rate);

export function egridReport(all: readonly PlantFigures[], y: { year: number; edition: string }, level: ReportLevel, code: string): EgridReport {
  const mine = all.filter((p) => levelKey(p, level)?.toUpperCase() === code);
  if (mine.length === 0) throw new HttpProblem(404, `no eGRID ${y.year} plants in ${level} '${code}'`, 'code');
  const [region] = aggregatePlants(mine, 'us');
  const [us] = aggregatePlants(all, 'us');
  return {
    ...y, level, code, plants: region!.plants, capacityMw: region!.capacityMw, netGenerationMwh: region!.netGenerationMwh, co2Tons: region!.co2Tons,
    rates: POLLUTANTS.map((p) => {
      const r = rateOf(region!, p), u = rateOf(us!, p);
      return { pollutant: p, region: r, us: u, ratio: r !== null && u ? r / u : null, nonBaseloadRegion: nbOf(region!, p), nonBaseloadUs: nbOf(us!, p) };
    }),
    mix: EGRID_MIX_FUELS.map((f) => ({ fuel: f, mwh: region!.mix[f].mwh, share: region!.mix[f].share, usShare: us!.mix[f].share })),
    topEmitters: topEmitters(mine, 'co2', 10),
    points: mine.filter((p) => p.orispl !== null && p.latitude !== null && p.longitude !== null).map((p) => {
      const xy = projectPoint(p.longitude!, p.latitude!);
      return [p.orispl!, p.latitude!, p.longitude!, p.nameplateMw, p.fuelCategory, p.plantName, xy?.[0] ?? null, xy?.[1] ?? null];
    }),
  };
}

/** The report's tables, for CSV (one table) and XLSX (every table a sheet). */
export function reportSheets(r: EgridReport): Record<ReportTable, Sheet> {
  return {
    rates: { name: 'Rates', header: ['pollutant', 'region_lb_per_mwh', 'us_lb_per_mwh', 'ratio_to_us', 'nonbaseload_region_lb_per_mwh', 'nonbaseload_us_lb_per_mwh'],
      rows: r.rates.map((x) => [x.pollutant, x.region, x.us, x.ratio, x.nonBaseloadRegion, x.nonBaseloadUs]) },
    mix: { name: 'Mix', header: ['fuel', 'mwh', 'share', 'us_share'], rows: r.mix.map((x) => [x.fuel, x.mwh, x.share, x.usShare]) },
    emitters: { name: 'Top emitters', header: ['orispl', 'plant_name', 'state', 'ba_code', 'fuel_category', 'co2_short_tons', 'co2_rate_lb_per_mwh', 'net_generation_mwh'],
      rows: r.topEmitters.map((e) => [e.orispl, e.plantName, e.state, e.baCode, e.fuelCategory, e.tons, e.rateLbPerMwh, e.netGenerationMwh]) },
    plants: { name: 'Plants', header: ['orispl', 'latitude', 'longitude', 'nameplate_mw', 'fuel_category', 'plant_name'], rows: r.points.map((p) => p.slice(0, 6) as Array<string | number | null>) },
  };
}
