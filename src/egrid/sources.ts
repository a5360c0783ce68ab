import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import ExcelJS from 'exceljs';
import { HttpProblem } from '../platform/problem.ts';
import { csvSheet, withHeader, type SourceRow, type SourceSheet } from './sheet-rows.ts';

export type EgridFormat = 'csv' | 'xlsx';
export { csvSheet, withHeader, type SourceRow, type SourceSheet };

/**
 * The format by magic bytes, never by name or declared type: a zip (`PK\3\4`) is an XLSX candidate,
 * UTF-8 text without NUL bytes is CSV; anything else (legacy .xls, PDF, gzip, images) is a 415.
 */
export async function sniffFormat(path: string): Promise<EgridFormat> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(65_536);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead);
    if (bytesRead === 0) throw new HttpProblem(422, 'file: empty', 'file');
    if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'xlsx';
    if (head.includes(0)) throw new HttpProblem(415, 'file: neither CSV text nor an XLSX workbook (binary content; legacy .xls is not read)', 'file');
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: bytesRead === buf.length });
    } catch {
      throw new HttpProblem(415, 'file: neither UTF-8 CSV text nor an XLSX workbook', 'file');
    }
    return 'csv';
  } finally {
    await fh.close();
  }
}

type XlsxCell = ExcelJS.CellValue | undefined;

/** A cell as its value: shared strings and rich text as text, formula cells as their cached result (counted). */
function xlsxValue(v: XlsxCell, counter: { formulas: number }): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || v instanceof Date) return typeof v === 'boolean' ? String(v).toUpperCase() : v;
  if ('formula' in v || 'sharedFormula' in v) {
    counter.formulas++;
    return xlsxValue((v as { result?: XlsxCell }).result ?? null, counter);
  }
  if ('richText' in v) return v.richText.map((r) => r.text).join('');
  if ('text' in v) return String((v as { text: unknown }).text);
  if ('error' in v) return String(v.error);
  return null;
}

/**
 * The worksheets of an XLSX, streamed with exceljs's WorkbookReader (styles and hyperlinks ignored;
 * no cell is ever evaluated). Run inspectXlsxArchive on the file first.
 */
export async function* xlsxSheets(path: string, counter: { formulas: number }, onBytes?: (n: number) => void): AsyncGenerator<SourceSheet> {
  const input = createReadStream(path, { highWaterMark: 1 << 20 });
  if (onBytes) input.on('data', (chunk) => onBytes(chunk.length));
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, { sharedStrings: 'cache', hyperlinks: 'ignore', styles: 'ignore', worksheets: 'emit', entries: 'emit' });
  for await (const ws of reader) {
    const sheet = ws as unknown as AsyncIterable<ExcelJS.Row> & { name: string };
    yield {
      name: sheet.name,
      rows: (async function* () {
        for await (const row of sheet) {
          const values = row.values as XlsxCell[];
          // exceljs rows are 1-based sparse arrays
          const cells: unknown[] = [];
          for (let i = 1; i < values.length; i++) cells.push(xlsxValue(values[i], counter));
          yield { line: row.number, cells };
        }
      })(),
    };
  }
}
