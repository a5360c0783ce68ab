import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import { detectHeader, HeaderError, type SheetHeader } from './header.ts';

/**
 * Rows of a sheet as read, and the CSV reader: apart from sources.ts (which adds XLSX through exceljs) so that the
 * CSV import's worker thread (csv-import-worker.ts) starts without loading exceljs.
 */

/** A row as read: cells are strings (CSV) or numbers, strings and dates (XLSX); or a line the reader could not split. */
export type SourceRow = { line: number; cells: unknown[] } | { line: number; error: string };
export interface SourceSheet { name: string; rows: AsyncIterable<SourceRow> }

/** A byte range of the file to read (csv-split.ts `csvParts`): from a record boundary, starting on line `firstLine`. */
export interface CsvRange { start: number; end: number; firstLine: number }

/**
 * One sheet: the file's rows (or those of `range`), 1-based physical line numbers of the whole file; a line csv-parse
 * cannot split is reported, not fatal.
 */
export function csvSheet(path: string, name: string, onBytes?: (n: number) => void, range?: CsvRange): SourceSheet {
  const before = range ? range.firstLine - 1 : 0;
  return {
    name,
    rows: (async function* () {
      // createReadStream's `end` is inclusive
      const file = createReadStream(path, { highWaterMark: 1 << 20, ...(range ? { start: range.start, end: range.end - 1 } : {}) });
      if (onBytes) file.on('data', (chunk) => onBytes(chunk.length));
      const skipped: SourceRow[] = [];
      const parser = file.pipe(parse({
        bom: true, relax_column_count: true, skip_records_with_error: true, info: true, trim: false,
        on_skip: (err) => { skipped.push({ line: before + ((err as { lines?: number }).lines ?? 0), error: err?.message ?? 'unreadable line' }); },
      }));
      for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
        while (skipped.length) yield skipped.shift()!;
        yield { line: before + info.lines, cells: record };
      }
      while (skipped.length) yield skipped.shift()!;
    })(),
  };
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
