import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { parse } from 'csv-parse';
import ExcelJS from 'exceljs';
import { HttpProblem } from '../platform/problem.ts';
import { detectHeader, HeaderError, type SheetHeader } from './header.ts';

export type EgridFormat = 'csv' | 'xlsx';
/** A row as read: cells are strings (CSV) or numbers, strings and dates (XLSX); or a line the reader could not split. */
export type SourceRow = { line: number; cells: unknown[] } | { line: number; error: string };
export interface SourceSheet { name: string; rows: AsyncIterable<SourceRow> }

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

/** One sheet: the file's rows, 1-based physical line numbers; a line csv-parse cannot split is reported, not fatal. */
export function csvSheet(path: string, name: string, onBytes?: (n: number) => void): SourceSheet {
  return {
    name,
    rows: (async function* () {
      const file = createReadStream(path, { highWaterMark: 1 << 20 });
      if (onBytes) file.on('data', (chunk) => onBytes(chunk.length));
      const skipped: SourceRow[] = [];
      const parser = file.pipe(parse({
        bom: true, relax_column_count: true, skip_records_with_error: true, info: true, trim: false,
        on_skip: (err) => { skipped.push({ line: (err as { lines?: number }).lines ?? 0, error: err?.message ?? 'unreadable line' }); },
      }));
      for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        while (skipped.length) yield skipped.shift()!;
        yield { line: info.lines, cells: record };
      }
      while (skipped.length) yield skipped.shift()!;
    })(),
  };
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

const HEADER_ROWS = 6;

/** Reads a sheet's first rows, finds its header, and gives back the rows after it. */
export async function withHeader(sheet: SourceSheet, fileName: string): Promise<{ header: SheetHeader; rows: AsyncIterable<SourceRow> } | HeaderError> {
  const it = sheet.rows[Symbol.asyncIterator]();
  const head: { line: number; cells: unknown[] }[] = [];
  const buffered: SourceRow[] = [];
  let done = false;
  while (head.length < HEADER_ROWS) {
    const next = await it.next();
    if (next.done) { done = true; break; }
    buffered.push(next.value);
    if ('cells' in next.value) head.push(next.value);
  }
  let header: SheetHeader;
  try {
    header = detectHeader(head, sheet.name, fileName);
  } catch (err) {
    if (!done) for (let n = await it.next(); !n.done; n = await it.next()) { /* drain: exceljs reads sheets in order */ }
    if (err instanceof HeaderError) return err;
    throw err;
  }
  const rest = buffered.filter((r) => r.line > header.line);
  return {
    header,
    rows: (async function* () {
      yield* rest;
      if (!done) for (let n = await it.next(); !n.done; n = await it.next()) yield n.value;
    })(),
  };
}
