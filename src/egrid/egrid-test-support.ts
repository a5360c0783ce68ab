import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { EGRID_MIX_FUELS, MIX_CODES, type PlantFigures } from './egrid-rates.ts';

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
    orispl: Number(r.ORISPL), name: r.PNAME ?? '', state: text('PSTATABB') ?? text('PSTATEABB'), ba: text('BACODE'), subregion: text('SUBRGN'), nerc: text('NERC'),
    primaryFuel: text('PLPRMFL'), fuelCategory: text('PLFUELCT'), lat: egridNumber(r.LAT), lon: egridNumber(r.LON),
    capacityMw: egridNumber(r.NAMEPCAP), capacityFactor: egridNumber(r.CAPFAC), heatInputMmbtu: egridNumber(r.PLHTIAN),
    netGenerationMwh: egridNumber(r.PLNGENAN), co2Tons: egridNumber(r.PLCO2AN), noxTons: egridNumber(r.PLNOXAN), so2Tons: egridNumber(r.PLSO2AN),
    generationByFuel: Object.fromEntries(EGRID_MIX_FUELS.map((f) => [f, egridNumber(r[`PLGENA${MIX_CODES[f]}`])])),
  };
}

/** A made-up plant for property tests and fixtures; every figure can be overridden. */
export function plant(over: Partial<PlantFigures> = {}): PlantFigures {
  return {
    orispl: 1, name: 'Test plant', state: 'MN', ba: 'MISO', subregion: 'MROW', nerc: 'MRO', primaryFuel: 'NG', fuelCategory: 'GAS',
    lat: 45, lon: -93, capacityMw: 100, capacityFactor: 0.5, heatInputMmbtu: 1000, netGenerationMwh: 100, co2Tons: 50, noxTons: 1, so2Tons: 0.5,
    generationByFuel: { gas: 100 }, ...over,
  };
}
