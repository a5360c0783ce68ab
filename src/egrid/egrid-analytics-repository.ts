import type { Db } from '../platform/db.ts';
import { FIGURE_COLUMNS, type PlantFigures } from './egrid-rates.ts';
import { selectList } from './egrid-repository.ts';

/** The analytics' reads of the eGRID store (migrations/0026_egrid.sql). */

/** camelCase field → its snake_case column (co2ShortTons → co2_short_tons). */
export const snake = (s: string) => s.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
const FIGURE_SQL = selectList(FIGURE_COLUMNS.map(snake));

/** Filters of the plant list; every one optional. `fuel` matches the primary fuel code or the fuel category. */
export interface PlantFilter { state?: string | undefined; ba?: string | undefined; subregion?: string | undefined; fuel?: string | undefined; minMw?: number | undefined; maxMw?: number | undefined }

/** Sort keys of the plant list → column; a leading '-' in the request sorts descending. */
export const PLANT_SORTS = {
  orispl: 'orispl', name: 'plant_name', state: 'state', capacity: 'nameplate_mw', generation: 'net_generation_mwh',
  co2: 'co2_short_tons', co2Rate: 'co2_rate_lb_per_mwh', capacityFactor: 'capacity_factor',
} as const;
export type PlantSort = keyof typeof PLANT_SORTS;

function where(year: number, f: PlantFilter): { sql: string; params: unknown[] } {
  const params: unknown[] = [year];
  const conds = ['data_year = $1'];
  const add = (cond: (n: string) => string, v: unknown) => { params.push(v); conds.push(cond(`$${params.length}`)); };
  if (f.state) add((n) => `state = ${n}`, f.state.toUpperCase());
  if (f.ba) add((n) => `ba_code = ${n}`, f.ba.toUpperCase());
  if (f.subregion) add((n) => `subregion = ${n}`, f.subregion.toUpperCase());
  if (f.fuel) add((n) => `(upper(primary_fuel) = ${n} OR upper(fuel_category) = ${n})`, f.fuel.toUpperCase());
  if (f.minMw !== undefined) add((n) => `nameplate_mw >= ${n}`, f.minMw);
  if (f.maxMw !== undefined) add((n) => `nameplate_mw <= ${n}`, f.maxMw);
  return { sql: conds.join(' AND '), params };
}

/** The columns the plant list returns (camelCase), with units in the names. */
export const LIST_COLUMNS = ['orispl', 'plant_name', 'state', 'county_name', 'ba_code', 'subregion', 'nerc_region', 'operator_name', 'sector', 'latitude', 'longitude',
  'primary_fuel', 'fuel_category', 'nameplate_mw', 'capacity_factor', 'net_generation_mwh', 'heat_input_mmbtu', 'co2_short_tons', 'nox_short_tons', 'so2_short_tons',
  'co2_rate_lb_per_mwh', 'nox_rate_lb_per_mwh', 'so2_rate_lb_per_mwh', 'heat_rate_btu_per_kwh'] as const;
export interface PlantListRow {
  orispl: number | null; plantName: string | null; state: string | null; countyName: string | null; baCode: string | null; subregion: string | null; nercRegion: string | null;
  operatorName: string | null; sector: string | null; latitude: number | null; longitude: number | null; primaryFuel: string | null; fuelCategory: string | null;
  nameplateMw: number | null; capacityFactor: number | null; netGenerationMwh: number | null; heatInputMmbtu: number | null;
  co2ShortTons: number | null; noxShortTons: number | null; so2ShortTons: number | null;
  co2RateLbPerMwh: number | null; noxRateLbPerMwh: number | null; so2RateLbPerMwh: number | null; heatRateBtuPerKwh: number | null;
}

/**
 * One page of plants and the total matching; sorted by `sort` then ORISPL (nulls last), then eGRID's sequence number:
 * plants without an ORISPL (keyed by (data_year, seq), migration 0027) tie on both, and pages (the CSV and XLSX
 * downloads read page after page) need a total order, or a row can repeat on one page and be missing from the next.
 */
export async function queryPlants(db: Db, year: number, f: PlantFilter, sort: PlantSort, descending: boolean, limit: number, offset: number): Promise<{ total: number; rows: PlantListRow[] }> {
  const w = where(year, f);
  const order = `${PLANT_SORTS[sort]} ${descending ? 'DESC' : 'ASC'} NULLS LAST, orispl, seq`;
  const [count, rows] = await Promise.all([
    db.query<{ n: number }>(`SELECT count(*)::int AS n FROM egrid_plants WHERE ${w.sql}`, w.params),
    db.query<PlantListRow>(`SELECT ${selectList(LIST_COLUMNS)} FROM egrid_plants WHERE ${w.sql} ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`, w.params),
  ]);
  return { total: count[0]!.n, rows };
}

/** Every matching plant, chunk by chunk, for the CSV and XLSX downloads (bounded memory per chunk). */
export async function* streamPlants(db: Db, year: number, f: PlantFilter, sort: PlantSort, descending: boolean, chunk = 2000): AsyncGenerator<PlantListRow[]> {
  for (let offset = 0; ; offset += chunk) {
    const { rows } = await queryPlants(db, year, f, sort, descending, chunk, offset);
    if (rows.length) yield rows;
    if (rows.length < chunk) return;
  }
}

const FIGURE_MEMO_YEARS = 4;
const figureMemo = new WeakMap<Db, Map<string, Promise<PlantFigures[]>>>();

/**
 * The figures of every plant of a year (the input of aggregates, distributions, reports and the egrid-YYYY
 * factor set). Reading a national year (~12,000 rows) costs far more than summing it, so the last few years read
 * are kept per database and store version: an import changes the version, and the next call reads again.
 */
export async function plantFigures(db: Db, year: number): Promise<PlantFigures[]> {
  const key = `${year}:${await storeVersion(db)}`;
  let memo = figureMemo.get(db);
  if (!memo) figureMemo.set(db, (memo = new Map()));
  const hit = memo.get(key);
  if (hit) return hit;
  const read = db.query<PlantFigures>(`SELECT ${FIGURE_SQL} FROM egrid_plants WHERE data_year = $1 ORDER BY orispl, seq`, [year]);
  memo.set(key, read);
  read.catch(() => memo.delete(key));
  while (memo.size > FIGURE_MEMO_YEARS) memo.delete(memo.keys().next().value!);
  return read;
}

/** Data years with plants, newest first, with their eGRID edition. */
export function plantEditions(db: Db): Promise<Array<{ year: number; edition: string; plants: number }>> {
  return db.query(`SELECT data_year AS year, edition, row_count AS plants FROM egrid_datasets WHERE kind = 'plant' ORDER BY data_year DESC`);
}

/**
 * A version of the eGRID store: changes whenever an import replaces a year. Part of every eGRID cache key,
 * so an answer computed before an import is never served after it.
 */
export async function storeVersion(db: Db): Promise<string> {
  const [r] = await db.query<{ v: string | null }>(`SELECT max(loaded_at)::text || ':' || count(*)::text AS v FROM egrid_datasets`);
  const [p] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM egrid_plants`);
  return `${r?.v ?? 'none'}:${p?.n ?? 0}`;
}

/** EIA-930 fuel codes a BA reports generation for (its generation_by_fuel series). */
export async function baFuelCodes(db: Db, ba: string): Promise<string[]> {
  return (await db.query<{ f: string }>(`SELECT subtype AS f FROM series WHERE ba_code = $1 AND type = 'generation_by_fuel' ORDER BY subtype`, [ba])).map((r) => r.f);
}
