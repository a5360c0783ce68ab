import type { CopyValue } from '../platform/db.ts';
import type { EgridKind, EgridValue } from './egrid-repository.ts';
import { aggregatesColumns, generatorsColumns, plantsColumns, unitsColumns } from './egrid-repository.ts';
import { AGGREGATE_PREFIX, type ColumnSpec } from './columns.ts';
import type { SheetHeader } from './header.ts';
import { parseEgridFlag, parseEgridNumber, plainNumber } from './numbers.ts';

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

/** JSON's number grammar (no `+`, no leading zeros, no bare `.5` or `5.`). */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
/** What a number, `--` or an accounting negative can begin with. */
const NUMBER_START = /^[\d+\-.(]/;

function extraValue(raw: unknown): { value: EgridValue; notCalculated?: boolean } {
  if (typeof raw === 'number') return { value: raw };
  const s = cellString(raw);
  if (s === '') return { value: null };
  // a cell that cannot begin a number (`EIA`, a name) is text: parseEgridNumber would only say so after four tests
  if (!NUMBER_START.test(s)) return { value: s };
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
  const plan = planOf(header);
  const values: CopyValue[] = new Array<CopyValue>(plan.width).fill(null);
  // the extra columns as JSON text, written directly: a per-row object with sheet-dependent keys is slow to build
  let extra = '';
  let notCalculated: string[] | undefined;
  let filled = 0;
  for (let i = 0; i < plan.cells.length; i++) {
    const step = plan.cells[i];
    const raw = cells[i];
    if (raw === null || raw === undefined || raw === '') continue;
    filled++;
    if (!step) continue;
    // the common case first, without allocating: a plain number in a number column (or kept in extra)
    const text = typeof raw === 'string' ? raw : undefined;
    const plain = text !== undefined && (step.type === 'number' || step.target < 0) ? plainNumber(text) : undefined;
    if (plain !== undefined && text !== undefined) {
      // kept as written (PostgreSQL reads the same double from it, and JSON the same number), which saves a
      // number-to-text conversion per cell; 0 is written `0` (`-0.0` would store -0, `1e-400` is out of range)
      if (step.target >= 0) values[step.target] = plain === 0 ? 0 : text;
      else extra += `${extra ? ',' : ''}${step.jsonKey}:${plain !== 0 && JSON_NUMBER.test(text) ? text : String(plain)}`;
      continue;
    }
    if (step.target >= 0) {
      const out = convert(raw, step.type);
      if ('error' in out) return { ok: false, problem: { column: step.code, code: 'bad-value', message: `${step.code}: ${out.error}` } };
      if (out.notCalculated) (notCalculated ??= []).push(step.code);
      values[step.target] = out.value;
    } else {
      const out = extraValue(raw);
      if (out.notCalculated) (notCalculated ??= []).push(step.code);
      else if (out.value !== null) extra += `${extra ? ',' : ''}${step.jsonKey}:${typeof out.value === 'number' ? String(out.value) : JSON.stringify(out.value)}`;
    }
  }
  let kind = header.kind;
  if (kind === 'us') values[plan.key[0]!] = 'US';
  else if (plan.aggregate && values[plan.key[0]!] === 'US') kind = 'us';
  const missing = plan.key.filter((k) => values[k] === null);
  if (missing.length === plan.key.length && filled <= 2 + (header.yearIndex >= 0 ? 1 : 0)) return { ok: 'skip', reason: 'blank' };
  if (missing.length) {
    const names = missing.map((k) => plan.columns[k]!);
    return { ok: false, problem: { column: names[0]!, code: 'missing-key', message: `no ${names.join(', ')}: a row is keyed by it` } };
  }
  if (plan.orispl >= 0 && values[plan.orispl] !== null && (values[plan.orispl] as number) <= 0) {
    return { ok: false, problem: { column: 'ORISPL', code: 'bad-value', message: `ORISPL: not a plant code: ${String(values[plan.orispl])}` } };
  }
  let dataYear = ctx.fallbackYear;
  if (header.yearIndex >= 0) {
    const y = convert(cells[header.yearIndex], 'year');
    if ('error' in y) return { ok: false, problem: { column: 'YEAR', code: 'bad-value', message: `YEAR: ${y.error}` } };
    if (typeof y.value === 'number') dataYear = y.value;
  }
  if (dataYear === undefined) return { ok: false, problem: { column: 'YEAR', code: 'no-year', message: 'no data year in the row, the sheet or its name; give --year' } };
  if (ctx.onlyYear !== undefined && dataYear !== ctx.onlyYear) return { ok: 'skip', reason: 'other-year' };
  values[plan.dataYear] = dataYear;
  if (plan.level >= 0) values[plan.level] = kind;
  values[plan.bag] = `{${extra}}`;
  values[plan.notCalculated] = notCalculated ? pgArray(notCalculated) : '{}';
  values[plan.sourceLine] = ctx.line;
  values[plan.importId] = ctx.importId;
  return { ok: true, dataYear, kind, values };
}

interface RowPlan {
  columns: readonly string[];
  width: number;
  /** Per source column: where its value goes (target index, or -1 and the extra key), or null to ignore. */
  cells: ({ target: number; type: ColumnSpec['type']; code: string; jsonKey: string } | null)[];
  key: number[];
  orispl: number;
  aggregate: boolean;
  dataYear: number; level: number; bag: number; notCalculated: number; sourceLine: number; importId: number;
}

const plans = new WeakMap<SheetHeader, RowPlan>();

/** What each source column of a sheet fills, worked out once per sheet instead of once per row. */
function planOf(header: SheetHeader): RowPlan {
  const cached = plans.get(header);
  if (cached) return cached;
  const { columns } = tableOf(header.kind);
  const at = (c: string) => columns.indexOf(c);
  const aggregate = !(header.kind === 'plant' || header.kind === 'generator' || header.kind === 'unit');
  const levelPrefix = aggregate ? AGGREGATE_PREFIX[header.kind as keyof typeof AGGREGATE_PREFIX] : '';
  const plan: RowPlan = {
    columns, width: columns.length, aggregate,
    cells: header.columns.map((col) => {
      if (!col) return null;
      if ('spec' in col) return { target: at(col.spec.column), type: col.spec.type, code: col.spec.code, jsonKey: '' };
      const extraKey = levelPrefix && col.extra.startsWith(levelPrefix) ? col.extra.slice(levelPrefix.length) : col.extra;
      return { target: -1, type: 'text', code: col.extra, jsonKey: JSON.stringify(extraKey) };
    }),
    key: header.keyColumns.map((k) => at(k)),
    orispl: at('orispl'), dataYear: at('data_year'), level: at('level'), bag: at(aggregate ? 'measures' : 'extra'),
    notCalculated: at('not_calculated'), sourceLine: at('source_line'), importId: at('import_id'),
  };
  plans.set(header, plan);
  return plan;
}

/** A text[] literal of plain codes (letters, digits). */
const pgArray = (codes: string[]) => `{${codes.join(',')}}`;
