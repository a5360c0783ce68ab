import { parse } from 'csv-parse/sync';
import { LOCAL_HOURLY, LOCAL_HOURLY_REASON, periodStart, type EiaPoint, type EiaRoute } from './eia-schema.ts';
import { addReason } from './store-points.ts';
import { parseObservationValue } from '../grid/values.ts';

/** gridemissions' fuel column names that differ from EIA's `fueltype` codes (GAS is EIA's NG fuel). */
const FUEL_ALIASES: Readonly<Record<string, string>> = { GAS: 'NG' };
/** Region-data types; in the E_ layout `NG` is net generation (gas is `GAS`). */
const REGION_CODES = new Set(['D', 'DF', 'NG', 'TI']);
const PERIOD = /^\d{4}-\d{2}-\d{2}T\d{2}$/;
const BA = /^[A-Z0-9]+$/;

/** A data column, or a column whose every cell is rejected for `reason`. */
type Column = { route: EiaRoute; ba: string; code: string } | { reason: string };

/**
 * E_ layout (gridemissions' own files): `E_<BA>_<D|DF|NG|TI>` → region data; `E_<BA1>-<BA2>_ID` →
 * interchange BA1 → BA2 (signed as EIA signs it: positive = export from BA1); `E_<BA>_<fuel>` →
 * generation by fuel. Anything else is not a data column.
 */
function columnOfE(name: string): Column | undefined {
  const m = /^E_(.+)_([A-Z]+)$/.exec(name.trim());
  if (!m) return undefined;
  const [, who, kind] = m as unknown as [string, string, string];
  if (kind === 'ID') {
    const [from, to, ...rest] = who.split('-');
    return from && to && rest.length === 0 && BA.test(from) && BA.test(to) ? { route: 'interchange', ba: from, code: to } : undefined;
  }
  if (!BA.test(who)) return undefined;
  if (REGION_CODES.has(kind)) return { route: 'region', ba: who, code: kind };
  return { route: 'fuel', ba: who, code: FUEL_ALIASES[kind] ?? kind };
}

/**
 * EBA layout (EIA's former bulk series ids, still written by gridemissions and Open Grid
 * Emissions): `EBA.<BA>-ALL.<D|DF|NG|TI>.H` → region data (NG = net generation);
 * `EBA.<BA>-ALL.NG.<fuel>.H` → generation by fuel, with EIA's own fuel codes (NG = natural gas);
 * `EBA.<BA1>-<BA2>.ID.H` → interchange BA1 → BA2 (positive = export from BA1). The same ids ending
 * `.HL` are EIA's local-hourly copies: rejected (LOCAL_HOURLY_REASON), since `.H` carries the same values.
 */
function columnOfEba(name: string): Column | undefined {
  const m = /^EBA\.([A-Z0-9]+)-([A-Z0-9]+)\.([A-Z]+)(?:\.([A-Z0-9]+))?\.(H|HL)$/.exec(name.trim());
  if (!m) return undefined;
  const [, ba, other, kind, fuel, freq] = m as unknown as [string, string, string, string, string | undefined, string];
  let column: Column | undefined;
  if (other === 'ALL' && kind === 'NG' && fuel) column = { route: 'fuel', ba, code: fuel };
  else if (other === 'ALL' && !fuel && REGION_CODES.has(kind)) column = { route: 'region', ba, code: kind };
  else if (other !== 'ALL' && kind === 'ID' && !fuel) column = { route: 'interchange', ba, code: other };
  if (!column) return undefined;
  return freq === 'HL' ? { reason: LOCAL_HOURLY_REASON } : column;
}

/**
 * The EBA layout's timestamp → the UTC start of the hour. The stamps are hour-ending UTC instants
 * with an offset, as pandas writes them (`2015-07-01 05:00:00+00:00`), or EIA's bulk form
 * (`20150701T05Z`). Hour-ending, as EIA publishes them: in the real EBA_raw.csv each BA's first
 * value is the hour ending 01:00 local on 2015-07-01 (PJM 05:00Z, MISO 06:00Z, PSCO 07:00Z, CISO 08:00Z).
 */
function ebaStamp(cell: string): Date | { reason: string } {
  const bulk = /^(\d{4})(\d{2})(\d{2})T(\d{2})Z$/.exec(cell);
  if (bulk) return periodStart(`${bulk[1]}-${bulk[2]}-${bulk[3]}T${bulk[4]}`) ?? { reason: 'malformed timestamp (not a calendar date)' };
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.0+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(cell);
  if (!m) return { reason: 'malformed timestamp (expected an hour-ending UTC instant such as 2015-07-01 05:00:00+00:00)' };
  const [, date, hh, mm, ss, zone] = m as unknown as [string, string, string, string, string | undefined, string | undefined];
  if (zone === undefined) return { reason: 'timestamp without a UTC offset (expected e.g. 2015-07-01 05:00:00+00:00)' };
  if (!/^(Z|[+-]00:?00)$/.test(zone)) return { reason: LOCAL_HOURLY_REASON };
  if (mm !== '00' || (ss ?? '00') !== '00') return { reason: 'timestamp is not on the hour' };
  return periodStart(`${date}T${hh}`) ?? { reason: 'malformed timestamp (not a calendar date)' };
}

/** The E layout's `period` → the UTC start of the hour. */
function ePeriod(cell: string): Date | { reason: string } {
  if (LOCAL_HOURLY.test(cell)) return { reason: LOCAL_HOURLY_REASON };
  const start = PERIOD.test(cell) ? periodStart(cell) : undefined;
  return start ?? { reason: 'malformed period (expected hour-ending UTC YYYY-MM-DDTHH on a real date)' };
}

export type WideLayout = 'E' | 'EBA';

export interface WideParse {
  layout: WideLayout;
  points: EiaPoint[];
  rows: number;
  /** cells not read; `reasons` counts them by reason */
  rejected: number;
  reasons: Record<string, number>;
  ignoredColumns: string[];
}

/**
 * Reads an EIA-930 wide CSV as gridemissions (jdechalendar/gridemissions) and Open Grid Emissions
 * write it, one row per hour and one column per series, in either layout:
 * - E: a `period` column in EIA's hour-ending UTC `YYYY-MM-DDTHH`, then `E_<BA>_<series>` columns;
 * - EBA: an unnamed first column of hour-ending UTC timestamps, then `EBA.<BA>-ALL.D.H`-style columns.
 * Empty cells are missing values (null). A cell that is not a number, a row whose time is
 * malformed, local-hourly or without a UTC offset, and every cell of a local-hourly (`.HL`) column
 * are rejected and counted by reason, without losing the rest of the file.
 */
export function parseGridemissionsCsv(text: string): WideParse {
  const records = parse(text, { relax_column_count: true, skip_empty_lines: true, trim: true, bom: true }) as string[][];
  const header = records[0] ?? [];
  const layout: WideLayout | undefined = header[0] === 'period' ? 'E' : header.slice(1).some((h) => h.startsWith('EBA.')) ? 'EBA' : undefined;
  if (!layout) {
    throw new Error("not a gridemissions wide file: the first column must be 'period' (with E_<BA>_<series> columns), or an unnamed timestamp column before EBA.<BA>-ALL.D.H-style columns");
  }
  const columns = header.map((name, i) => (i === 0 ? undefined : layout === 'E' ? columnOfE(name) : columnOfEba(name)));
  const ignoredColumns = header.filter((_, i) => i > 0 && !columns[i]);
  const dataColumns = columns.filter(Boolean).length;
  const points: EiaPoint[] = [];
  const reasons: Record<string, number> = {};
  for (const cells of records.slice(1)) {
    const ts = layout === 'E' ? ePeriod(cells[0] ?? '') : ebaStamp(cells[0] ?? '');
    if (!(ts instanceof Date)) { addReason(reasons, ts.reason, dataColumns); continue; }
    columns.forEach((c, i) => {
      if (!c) return;
      if ('reason' in c) { addReason(reasons, c.reason); return; }
      const cell = cells[i];
      if (cell === undefined) { addReason(reasons, 'row has fewer cells than the header'); return; }
      const value = cell === '' ? null : parseObservationValue(cell);
      if (value !== null && typeof value !== 'number') { addReason(reasons, value.reason); return; }
      points.push({ ...c, ts, value });
    });
  }
  const rejected = Object.values(reasons).reduce((a, n) => a + n, 0);
  return { layout, points, rows: records.length - 1, rejected, reasons, ignoredColumns };
}
