import { periodToStart, type EiaPoint, type EiaRoute } from './eia-schema.ts';

/** gridemissions' fuel column names that differ from EIA's `fueltype` codes (GAS is EIA's NG fuel). */
const FUEL_ALIASES: Readonly<Record<string, string>> = { GAS: 'NG' };
/** Region-data types; in the wide format `NG` is net generation (gas is `GAS`). */
const REGION_CODES = new Set(['D', 'DF', 'NG', 'TI']);
const PERIOD = /^\d{4}-\d{2}-\d{2}T\d{2}$/;
const BA = /^[A-Z0-9]+$/;

interface Column { route: EiaRoute; ba: string; code: string }

/**
 * `E_<BA>_<D|DF|NG|TI>` → region data; `E_<BA1>-<BA2>_ID` → interchange BA1 → BA2 (signed as EIA signs it:
 * positive = export from BA1); `E_<BA>_<fuel>` → generation by fuel. Anything else is not a data column.
 */
function columnOf(name: string): Column | undefined {
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

export interface WideParse { points: EiaPoint[]; rows: number; rejected: number; ignoredColumns: string[] }

/**
 * Reads an EIA-930 file in gridemissions' wide format (jdechalendar/gridemissions: a `period` column in
 * EIA's hour-ending UTC `YYYY-MM-DDTHH`, then one column per series). Empty cells are missing values (null);
 * a cell that is not a number, or a row whose period is malformed, is counted as rejected and skipped,
 * without losing the rest of the file.
 */
export function parseGridemissionsCsv(text: string): WideParse {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').split(',');
  if (header[0]?.trim() !== 'period') throw new Error("not a gridemissions wide file: the first column must be 'period'");
  const columns = header.map((name, i) => (i === 0 ? undefined : columnOf(name)));
  const ignoredColumns = header.filter((name, i) => i > 0 && !columns[i]);
  const points: EiaPoint[] = [];
  let rejected = 0;
  for (const line of lines.slice(1)) {
    const cells = line.split(',');
    const period = cells[0]?.trim() ?? '';
    if (!PERIOD.test(period)) { rejected += columns.filter(Boolean).length; continue; }
    const ts = periodToStart(period);
    columns.forEach((c, i) => {
      if (!c) return;
      const cell = cells[i]?.trim() ?? '';
      const value = cell === '' ? null : Number(cell);
      if (value !== null && !Number.isFinite(value)) { rejected++; return; }
      points.push({ ...c, ts, value });
    });
  }
  return { points, rows: lines.length - 1, rejected, ignoredColumns };
}
