import type { CopyValue } from '../platform/db.ts';
import type { EgridKind, EgridValue } from './egrid-repository.ts';
import { aggregatesColumns, generatorsColumns, plantsColumns, unitsColumns } from './egrid-repository.ts';
import { AGGREGATE_PREFIX, type ColumnSpec } from './columns.ts';
import type { SheetHeader } from './header.ts';
import { parseEgridFlag, parseEgridNumber } from './numbers.ts';

/** The store table and its columns (in order) for each kind; aggregates share one table. */
export function tableOf(kind: EgridKind): { table: string; columns: readonly string[] } {
  switch (kind) {
    case 'plant': return { table: 'egrid_plants', columns: plantsColumns };
    case 'generator': return { table: 'egrid_generators', columns: generatorsColumns };
    case 'unit': return { table: 'egrid_units', columns: unitsColumns };
    default: return { table: 'egrid_aggregates', columns: aggregatesColumns };
  }
}

export interface RowProblem { column: string | null; code: string; message: string }
export type MappedRow =
  | { ok: true; dataYear: number; kind: EgridKind; values: CopyValue[] }
  | { ok: false; problem: RowProblem }
  | { ok: 'skip'; reason: 'blank' | 'other-year' };

/** Excel stores dates as day serials from 1899-12-30; a year written as a date is its serial. */
const excelSerial = (d: Date) => Math.round((d.getTime() - Date.UTC(1899, 11, 30)) / 86_400_000);

function cellString(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v.trim();
  return String(v);
}

type Converted = { value: CopyValue; notCalculated?: boolean } | { error: string };

function convert(raw: unknown, type: ColumnSpec['type']): Converted {
  if (type === 'text' || type === 'upper') {
    const s = cellString(raw);
    if (s === '--') return { value: null, notCalculated: true };
    return { value: s === '' ? null : type === 'upper' ? s.toUpperCase() : s };
  }
  if (type === 'flag') return { value: parseEgridFlag(raw as string | number | null) };
  if (type === 'fips2' || type === 'fips3') {
    const s = cellString(raw);
    return { value: s === '' ? null : /^\d+$/.test(s) ? s.padStart(type === 'fips2' ? 2 : 3, '0') : s };
  }
  const n = raw instanceof Date ? { ok: true as const, value: excelSerial(raw) } : parseEgridNumber(raw as string | number | null);
  if (!n.ok) return { error: n.reason };
  if (n.value !== null && (type === 'integer' || type === 'year') && !Number.isInteger(n.value)) return { error: `not a whole number: ${n.value}` };
  if (n.value !== null && type === 'year' && (n.value < 1850 || n.value > 2200)) return { error: `not a year: ${n.value}` };
  return { value: n.value, ...(n.notCalculated ? { notCalculated: true } : {}) };
}

function extraValue(raw: unknown): { value: EgridValue; notCalculated?: boolean } {
  if (typeof raw === 'number') return { value: raw };
  const s = cellString(raw);
  if (s === '') return { value: null };
  const n = parseEgridNumber(s);
  if (n.ok && n.notCalculated) return { value: null, notCalculated: true };
  // a code (EIA, PJM) or a label stays text; `NA` stays `NA` here
  if (n.ok && n.value !== null) return { value: n.value };
  return { value: s };
}

export interface RowContext {
  header: SheetHeader;
  /** The year when the sheet has no YEAR column (header, name or --year). */
  fallbackYear: number | undefined;
  /** Only rows of this year are taken (--year). */
  onlyYear: number | undefined;
  line: number;
  importId: number;
}

/**
 * One data row as the store row of its kind, in the table's column order. The documented rule:
 * a row with any mapped cell that cannot be read is rejected whole (with the column and why); a row
 * without any value in its key columns and at most two other values is a blank or junk line
 * (Excel's trailing `0,,,,0,,` lines), skipped; `--` cells are null and listed in not_calculated.
 */
export function mapRow(cells: unknown[], ctx: RowContext): MappedRow {
  const { header } = ctx;
  const values = new Map<string, CopyValue>();
  const extra: Record<string, EgridValue> = {};
  const notCalculated: string[] = [];
  let filled = 0;
  const levelPrefix = header.kind === 'plant' || header.kind === 'generator' || header.kind === 'unit' ? '' : AGGREGATE_PREFIX[header.kind];
  for (let i = 0; i < header.columns.length; i++) {
    const col = header.columns[i];
    const raw = cells[i];
    if (raw !== null && raw !== undefined && cellString(raw) !== '') filled++;
    if (!col) continue;
    if ('spec' in col) {
      const out = convert(raw, col.spec.type);
      if ('error' in out) return { ok: false, problem: { column: col.spec.code, code: 'bad-value', message: `${col.spec.code}: ${out.error}` } };
      if (out.notCalculated) notCalculated.push(col.spec.code);
      values.set(col.spec.column, out.value);
    } else {
      const out = extraValue(raw);
      const key = levelPrefix && col.extra.startsWith(levelPrefix) ? col.extra.slice(levelPrefix.length) : col.extra;
      if (out.notCalculated) notCalculated.push(col.extra);
      else if (out.value !== null) extra[key] = out.value;
    }
  }
  let kind = header.kind;
  if (kind === 'us') values.set('code', 'US');
  else if (kind !== 'plant' && kind !== 'generator' && kind !== 'unit' && values.get('code') === 'US') kind = 'us';
  const { columns } = tableOf(kind);
  const keys = columns.filter((c) => c === 'orispl' || c === 'generator_id' || c === 'unit_id' || c === 'code');
  const missing = keys.filter((k) => values.get(k) === null || values.get(k) === undefined);
  if (missing.length === keys.length && filled <= 2 + (header.yearIndex >= 0 ? 1 : 0)) return { ok: 'skip', reason: 'blank' };
  if (missing.length) return { ok: false, problem: { column: missing[0]!, code: 'missing-key', message: `no ${missing.join(', ')}: a row is keyed by it` } };
  const orispl = values.get('orispl');
  if (typeof orispl === 'number' && orispl <= 0) return { ok: false, problem: { column: 'ORISPL', code: 'bad-value', message: `ORISPL: not a plant code: ${orispl}` } };

  let dataYear = ctx.fallbackYear;
  if (header.yearIndex >= 0) {
    const y = convert(cells[header.yearIndex], 'year');
    if ('error' in y) return { ok: false, problem: { column: 'YEAR', code: 'bad-value', message: `YEAR: ${y.error}` } };
    if (typeof y.value === 'number') dataYear = y.value;
  }
  if (dataYear === undefined) return { ok: false, problem: { column: 'YEAR', code: 'no-year', message: 'no data year in the row, the sheet or its name; give --year' } };
  if (ctx.onlyYear !== undefined && dataYear !== ctx.onlyYear) return { ok: 'skip', reason: 'other-year' };

  values.set('data_year', dataYear);
  if (kind !== 'plant' && kind !== 'generator' && kind !== 'unit') values.set('level', kind);
  values.set(kind === 'plant' || kind === 'generator' || kind === 'unit' ? 'extra' : 'measures', JSON.stringify(extra));
  values.set('not_calculated', pgArray(notCalculated));
  values.set('source_line', ctx.line);
  values.set('import_id', ctx.importId);
  return { ok: true, dataYear, kind, values: columns.map((c) => values.get(c) ?? null) };
}

/** A text[] literal of plain codes (letters, digits). */
const pgArray = (codes: string[]) => `{${codes.join(',')}}`;
