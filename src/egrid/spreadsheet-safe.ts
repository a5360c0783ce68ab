import ExcelJS from 'exceljs';
import { neutraliseCell, toCsv, type Cell } from '../platform/csv.ts';

export { neutraliseCell, type Cell };

/**
 * Downloads that a spreadsheet opens safely (OWASP "CSV Injection"): a text cell that begins with
 * `=`, `+`, `-`, `@`, tab or carriage return could run as a formula, so it gets a leading apostrophe,
 * which spreadsheets show as text. Numbers stay numbers: a negative number is a value, not a formula.
 * The cell rule and the CSV writer are src/platform/csv.ts (shared by every CSV download).
 */

/** CSV (header row first) with every text cell neutralised, header included. */
export function safeCsv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<Cell>>): string {
  return toCsv(header, rows);
}

/** CSV lines of rows without a header row (for a download streamed in chunks after its header). */
export function safeCsvRows(rows: ReadonlyArray<ReadonlyArray<Cell>>): string {
  return toCsv([], rows);
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
