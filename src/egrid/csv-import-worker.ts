import { parentPort, workerData } from 'node:worker_threads';
import { copyLine } from '../platform/copy-text.ts';
import { HeaderError, type SheetHeader } from './header.ts';
import { mapRow } from './rows.ts';
import { csvSheet, withHeader, type CsvRange, type SourceRow } from './sheet-rows.ts';

/**
 * The CSV side of an eGRID import on a worker thread (issue 13: the import ran at 0.05 of `psql \copy`, its time in
 * csv-parse, row mapping, COPY encoding and the garbage of per-row value arrays, all on the thread that serves HTTP).
 * Here the file is read, split by csv-parse, its header found, each row mapped by the import's own rules (rows.ts
 * mapRow) and encoded straight to COPY text; the main thread only streams that text into `COPY … FROM STDIN`.
 * At most `window` chunks are unacknowledged at a time, so memory stays bounded whatever the file's size.
 * A large file is read by two such threads, each from a record boundary of its own part (csv-split.ts); the second
 * is given the header the first found.
 */
export interface CsvJob {
  path: string;
  /** The file's name (it may tell the data year). */
  name: string;
  /** --year / ?year=: the year of a sheet that tells none, and the only year imported. */
  year: number | undefined;
  importId: number;
  /** About this many characters of COPY text per message. */
  chunkChars: number;
  /** Messages sent ahead of the main thread's acknowledgements. */
  window: number;
  /** Only this part of the file (csv-split.ts): a second reader of a large file. */
  range?: CsvRange | undefined;
  /** The sheet's header as the first part's reader found it: a reader of a later part has none in its range. */
  header?: SheetHeader | undefined;
}

export interface RowRejection { line: number; column: string | null; code: string; message: string }

/** What the worker tells the main thread, in order: the header (or why there is none), row chunks, then done. */
export type CsvMessage =
  | { type: 'header'; header: SheetHeader }
  | { type: 'header-error'; message: string }
  | { type: 'rows'; text: string; rows: number; read: number; skipped: number; rejected: RowRejection[]; bytes: number }
  | { type: 'done' }
  | { type: 'failed'; message: string; stack?: string | undefined };

const ROWS_PER_MESSAGE = 5_000;

async function run(job: CsvJob, send: (m: CsvMessage) => Promise<void>): Promise<void> {
  let bytes = 0;
  const sheet = csvSheet(job.path, job.name, (n) => { bytes += n; }, job.range);
  let found: { header: SheetHeader; rows: AsyncIterable<SourceRow> };
  if (job.header) found = { header: job.header, rows: sheet.rows };
  else {
    const detected = await withHeader(sheet, job.name);
    if (detected instanceof HeaderError) return send({ type: 'header-error', message: detected.message });
    found = detected;
    await send({ type: 'header', header: found.header });
  }
  const { header } = found;
  const fallbackYear = header.editionYear ?? job.year;
  let text = ''; let rows = 0; let read = 0; let skipped = 0; let rejected: RowRejection[] = [];
  const flush = async () => {
    const m: CsvMessage = { type: 'rows', text, rows, read, skipped, rejected, bytes };
    text = ''; rows = 0; read = 0; skipped = 0; rejected = []; bytes = 0;
    await send(m);
  };
  for await (const row of found.rows) {
    if (row.line <= header.line) continue;
    if ('error' in row) {
      read++;
      rejected.push({ line: row.line, column: null, code: 'unreadable-line', message: row.error });
    } else {
      const mapped = mapRow(row.cells, { header, fallbackYear, onlyYear: job.year, line: row.line, importId: job.importId });
      if (mapped.ok === 'skip') skipped++;
      else {
        read++;
        if (mapped.ok === false) rejected.push({ line: row.line, column: mapped.problem.column, code: mapped.problem.code, message: mapped.problem.message });
        else { text += copyLine(mapped.values); rows++; }
      }
    }
    if (text.length >= job.chunkChars || read + skipped >= ROWS_PER_MESSAGE) await flush();
  }
  await flush();
  await send({ type: 'done' });
}

if (parentPort && (workerData as { csvImport?: CsvJob } | undefined)?.csvImport) {
  const port = parentPort;
  const job = (workerData as { csvImport: CsvJob }).csvImport;
  let unacked = 0;
  let wake: (() => void) | undefined;
  port.on('message', (m: 'ack') => {
    if (m !== 'ack') return;
    unacked--;
    wake?.();
    wake = undefined;
  });
  const send = async (m: CsvMessage) => {
    while (unacked >= job.window) await new Promise<void>((resolve) => { wake = resolve; });
    unacked++;
    port.postMessage(m);
  };
  run(job, send).catch((err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    port.postMessage({ type: 'failed', message: e.message, stack: e.stack } satisfies CsvMessage);
  });
}
