import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import type { Db } from '../platform/db.ts';
import { snake } from './egrid-analytics-repository.ts';
import { EGRID_MIX_FUELS, FIGURE_COLUMNS, MIX_CODES, MIX_COLUMNS, type PlantFigures } from './egrid-rates.ts';

/** Test support: eGRID PLNT rows (code header row) from a shared-data CSV as PlantFigures. */

/** A number as eGRID files write it ("1,234.5", "(48)"); empty and "--" are null. */
export function egridNumber(raw: string | undefined): number | null {
  const s = (raw ?? '').trim().replace(/,/g, '');
  if (s === '' || s === '--') return null;
  const m = /^\((.*)\)$/.exec(s);
  const n = Number(m ? `-${m[1]}` : s);
  return Number.isFinite(n) ? n : null;
}

export function readCodeCsv(file: string): Record<string, string>[] {
  return parse(readFileSync(file), { columns: true, bom: true, skip_empty_lines: true, relax_column_count: true }) as Record<string, string>[];
}

/** PlantFigures of one PLNT row keyed by column code. */
export function plantFromCodes(r: Record<string, string>): PlantFigures {
  const text = (k: string) => (r[k]?.trim() ? r[k]!.trim() : null);
  return {
    orispl: Number(r.ORISPL), plantName: r.PNAME ?? null, state: text('PSTATABB') ?? text('PSTATEABB'), baCode: text('BACODE'), subregion: text('SUBRGN'),
    nercRegion: text('NERC'), primaryFuel: text('PLPRMFL'), fuelCategory: text('PLFUELCT'), latitude: egridNumber(r.LAT), longitude: egridNumber(r.LON),
    nameplateMw: egridNumber(r.NAMEPCAP), capacityFactor: egridNumber(r.CAPFAC), heatInputMmbtu: egridNumber(r.PLHTIAN),
    netGenerationMwh: egridNumber(r.PLNGENAN), co2ShortTons: egridNumber(r.PLCO2AN), noxShortTons: egridNumber(r.PLNOXAN), so2ShortTons: egridNumber(r.PLSO2AN),
    ...Object.fromEntries(EGRID_MIX_FUELS.map((f) => [MIX_COLUMNS[f], egridNumber(r[`PLGENA${MIX_CODES[f]}`])])),
  } as PlantFigures;
}

/** A made-up plant for property tests and fixtures; every figure can be overridden. */
export function plant(over: Partial<PlantFigures> = {}): PlantFigures {
  const none = Object.fromEntries(EGRID_MIX_FUELS.map((f) => [MIX_COLUMNS[f], null]));
  return {
    ...none, orispl: 1, plantName: 'Test plant', state: 'MN', baCode: 'MISO', subregion: 'MROW', nercRegion: 'MRO', primaryFuel: 'NG', fuelCategory: 'GAS',
    latitude: 45, longitude: -93, nameplateMw: 100, capacityFactor: 0.5, heatInputMmbtu: 1000, netGenerationMwh: 100, co2ShortTons: 50, noxShortTons: 1, so2ShortTons: 0.5,
    genGasMwh: 100, ...over,
  } as PlantFigures;
}


/** Inserts plant rows of one data year directly (fixtures; the importer is tested on its own). */
export async function insertPlants(db: Db, year: number, plants: readonly PlantFigures[], extra: Partial<Record<string, unknown>> = {}): Promise<void> {
  const cols = [...FIGURE_COLUMNS, ...Object.keys(extra)];
  for (let i = 0; i < plants.length; i += 500) {
    const chunk = plants.slice(i, i + 500);
    const params: unknown[] = [];
    const values = chunk.map((p) => {
      const row = [year, ...cols.map((c) => (c in extra ? extra[c] : (p as unknown as Record<string, unknown>)[c]))];
      const ph = row.map((v) => { params.push(v); return `$${params.length}`; });
      return `(${ph.join(', ')})`;
    });
    await db.query(`INSERT INTO egrid_plants (data_year, ${cols.map(snake).join(', ')}) VALUES ${values.join(', ')}`, params);
  }
}
