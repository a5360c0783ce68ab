import ExcelJS from 'exceljs';
import { toCsv } from '../analytics/shared/route-support.ts';

/**
 * Downloads that a spreadsheet opens safely (OWASP "CSV Injection"): a text cell that begins with
 * `=`, `+`, `-`, `@`, tab or carriage return could run as a formula, so it gets a leading apostrophe,
 * which spreadsheets show as text. Numbers stay numbers: a negative number is a value, not a formula.
 */

export type Cell = string | number | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

/** A text cell made inert; numbers, null and undefined pass unchanged. */
export function neutraliseCell<T extends Cell>(v: T): T | string {
  return typeof v === 'string' && FORMULA_START.test(v) ? `'${v}` : v;
}

/** CSV (header row first) with every text cell neutralised, header included. */
export function safeCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<Cell>>): string {
  return toCsv(header.map((h) => String(neutraliseCell(h))), rows.map((r) => r.map(neutraliseCell)));
}

/** CSV lines of rows without a header row (for a download streamed in chunks after its header). */
export function safeCsvRows(rows: ReadonlyArray<ReadonlyArray<Cell>>): string {
  return rows.length ? safeCsv([], rows).slice(1) : '';
}

export interface Sheet { name: string; header: readonly string[]; rows: ReadonlyArray<ReadonlyArray<Cell>> }

/**
 * An XLSX workbook (exceljs) of one or more sheets, header row bold and frozen. Text cells are neutralised
 * and written as text (never as formulas); numbers as numbers.
 */
export async function safeXlsx(sheets: readonly Sheet[]): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'GridPulse';
  for (const s of sheets) {
    const ws = wb.addWorksheet(s.name.replace(/[[\]*?/\\:]/g, ' ').slice(0, 31), { views: [{ state: 'frozen', ySplit: 1 }] });
    ws.addRow(s.header.map((h) => neutraliseCell(h)));
    ws.getRow(1).font = { bold: true };
    for (const r of s.rows) ws.addRow(r.map((v) => (v === undefined ? null : neutraliseCell(v))));
  }
  return Buffer.from(await wb.xlsx.writeBuffer());
}

export const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
