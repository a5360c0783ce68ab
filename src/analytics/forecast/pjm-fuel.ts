import { HOUR_MS } from '../shared/hourly.ts';
import { factorLookup, type FactorSetName } from '../intensity/factors.ts';
import { productionPoints } from '../intensity/intensity.ts';
import type { History } from './forecast-model.ts';

/**
 * PJM's own fuel categories (PJM Data Miner 2 "Generation by Fuel Type", `gen_by_fuel`) mapped to EIA-930
 * `fueltype` codes, each with the reason. PJM's categories are not EIA-930's:
 * - "Hydro" includes pumped-storage discharge (PJM's Storage category peaks at 19 MW in 2025, batteries only,
 *   while Hydro reaches 5.8 GW): EIA-930 reports pumped storage separately (PS) since 2023, PJM does not split
 *   it, so all of it counts as hydro (24 g lifecycle). This understates intensity slightly in the hours when
 *   pumped storage releases energy pumped with fossil power.
 * - "Multiple Fuels" are units that can burn more than one fuel (PJM does not say which they burned): EIA-930
 *   has no such code; OTH (the "unknown/other" factor, 700 g lifecycle) is EIA's own catch-all.
 * - "Other Renewables" are biomass, wood, landfill gas and municipal waste: EIA-930 puts them in OTH, but
 *   PJM says what they are, so they take GridPulse's biomass code BIO (230 g lifecycle) rather than OTH's
 *   700 g that would treat known biomass as unknown fossil.
 * - "Storage" is battery discharge (PJM reports no charging here: mw ≥ 0): BAT, which takes the hour's
 *   non-storage intensity (STORAGE_RULE).
 */
export const PJM_FUEL_CODES: Readonly<Record<string, { code: string; why: string }>> = {
  Coal: { code: 'COL', why: 'coal' },
  Gas: { code: 'NG', why: 'natural gas' },
  Hydro: { code: 'WAT', why: 'conventional hydro and pumped-storage discharge together (PJM does not split them)' },
  'Multiple Fuels': { code: 'OTH', why: 'dual-fuel units whose fuel PJM does not state: EIA-930\'s catch-all' },
  Nuclear: { code: 'NUC', why: 'nuclear' },
  Oil: { code: 'OIL', why: 'petroleum' },
  'Other Renewables': { code: 'BIO', why: 'biomass, wood, landfill gas, waste (EIA-930 lumps them into OTH)' },
  Solar: { code: 'SUN', why: 'utility-scale solar (behind-the-meter excluded, as in EIA-930)' },
  Storage: { code: 'BAT', why: 'battery discharge' },
  Wind: { code: 'WND', why: 'wind' },
};

export const PJM_FUEL_HEADER = ['datetime_beginning_utc', 'datetime_beginning_ept', 'fuel_type', 'mw', 'fuel_percentage_of_total', 'is_renewable'] as const;

export interface PjmFuelRejection { line: number; reason: string }
export interface PjmFuelConflict { ts: Date; fuel: string; kept: number; other: number }

export interface PjmFuelMix {
  /** consecutive UTC hour starts from the first to the last hour of the file */
  ts: Date[];
  /** EIA-930 fuel code → MWh in the hour (PJM's hour-average MW), null where the file has no row */
  fuels: Record<string, Array<number | null>>;
  rows: number;
  rejected: PjmFuelRejection[];
  /** a (hour, fuel) key given twice with different values: the first value in the file is kept */
  conflicts: PjmFuelConflict[];
}

const PJM_TIME = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2}) (AM|PM)$/;

/** `6/2/2025 4:00:00 AM` (PJM Data Miner's 12-hour clock, no zero padding) as a UTC instant; NaN when malformed. */
export function parsePjmUtc(s: string): number {
  const m = PJM_TIME.exec(s.trim());
  if (!m) return NaN;
  const [, mo, d, y, h, mi, se, ap] = m as unknown as [string, string, string, string, string, string, string, 'AM' | 'PM'];
  const hour12 = Number(h);
  if (hour12 < 1 || hour12 > 12) return NaN;
  const hour = (hour12 % 12) + (ap === 'PM' ? 12 : 0);
  const t = Date.UTC(Number(y), Number(mo) - 1, Number(d), hour, Number(mi), Number(se));
  const back = new Date(t);
  return back.getUTCMonth() === Number(mo) - 1 && back.getUTCDate() === Number(d) ? t : NaN;
}

/**
 * Reads PJM's hourly generation by fuel in Data Miner 2's long format (one row per hour and fuel; header
 * PJM_FUEL_HEADER; rows in any order, the export is newest first). `datetime_beginning_utc` is the start of the
 * hour in UTC — GridPulse's own time convention, so no shift (EIA's `period` is hour-ending; PJM's is not).
 * `mw` is PJM's hour-average output, i.e. MWh in that hour: the same quantity EIA-930 reports as
 * "megawatthours" per hour. Fuels map to EIA-930 codes by PJM_FUEL_CODES. A row with a malformed time, an
 * unknown fuel or a value that is not a finite number is rejected with its line and reason, and the rest of
 * the file is kept; a repeated (hour, fuel) with a different value is a conflict, counted, the first kept.
 * Throws when the header is not PJM's.
 */
export function readPjmFuelCsv(text: string): PjmFuelMix {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').replace(/^\uFEFF/, '').split(',').map((c) => c.trim());
  const col = (name: string) => header.indexOf(name);
  const [iTs, iFuel, iMw] = [col('datetime_beginning_utc'), col('fuel_type'), col('mw')];
  if (iTs < 0 || iFuel < 0 || iMw < 0) throw new Error(`not a PJM gen_by_fuel file: the header must name datetime_beginning_utc, fuel_type and mw (got '${lines[0] ?? ''}')`);
  const values = new Map<string, Map<number, number>>();
  const rejected: PjmFuelRejection[] = [];
  const conflicts: PjmFuelConflict[] = [];
  let rows = 0;
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.trim() === '') continue;
    rows++;
    const cells = line.split(',');
    const t = parsePjmUtc(cells[iTs] ?? '');
    const fuel = (cells[iFuel] ?? '').trim();
    const cell = (cells[iMw] ?? '').trim();
    const mw = cell === '' ? NaN : Number(cell);
    const reason = Number.isNaN(t) ? `datetime_beginning_utc '${cells[iTs] ?? ''}' is not M/D/YYYY h:mm:ss AM|PM`
      : t % HOUR_MS !== 0 ? `datetime_beginning_utc '${cells[iTs]}' is not the start of an hour`
        : !PJM_FUEL_CODES[fuel] ? `fuel_type '${fuel}' is not one of PJM's categories (${Object.keys(PJM_FUEL_CODES).join(', ')})`
          : !Number.isFinite(mw) ? `mw '${cell}' is not a number` : undefined;
    if (reason) { rejected.push({ line: n + 1, reason }); continue; }
    const code = PJM_FUEL_CODES[fuel]!.code;
    let byHour = values.get(code);
    if (!byHour) values.set(code, (byHour = new Map()));
    const before = byHour.get(t);
    if (before === undefined) byHour.set(t, mw);
    else if (before !== mw) conflicts.push({ ts: new Date(t), fuel, kept: before, other: mw });
  }
  const times = [...values.values()].flatMap((m) => [...m.keys()]);
  if (times.length === 0) return { ts: [], fuels: {}, rows, rejected, conflicts };
  const first = Math.min(...times);
  const last = Math.max(...times);
  const ts = Array.from({ length: (last - first) / HOUR_MS + 1 }, (_, i) => new Date(first + i * HOUR_MS));
  const fuels: Record<string, Array<number | null>> = {};
  for (const [code, byHour] of values) fuels[code] = ts.map((t) => byHour.get(t.getTime()) ?? null);
  return { ts, fuels, rows, rejected, conflicts };
}

/**
 * Production-based intensity of PJM as one BA, hour by hour (gCO2eq/kWh), from its own fuel mix with
 * GridPulse's factors (`set`, lifecycle by default). Consumption-based intensity needs PJM's interchange with
 * its neighbours, which this file does not carry. An hour with any fuel missing is left out (null), not guessed.
 */
export function pjmIntensityHistory(mix: PjmFuelMix, set: FactorSetName = 'lifecycle'): History {
  const factor = factorLookup(set, 'PJM');
  const points = productionPoints(mix.ts, mix.fuels, factor);
  return { ts: mix.ts, y: points.map((p) => (p.flags.includes('partial-fuel-data') ? null : p.value)) };
}
