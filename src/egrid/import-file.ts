import { stat } from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { basename } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { audit, type AuditActor } from '../auth/audit.ts';
import type { CopyValue, Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import type { EgridKind, ImportRowError, ImportSheetResult, ImportStatus } from './egrid-repository.ts';
import { columnsOf } from './columns.ts';
import { HeaderError, type SheetHeader } from './header.ts';
import { mapRow, tableOf } from './rows.ts';
import { csvSheet, sniffFormat, withHeader, xlsxSheets, type EgridFormat, type SourceSheet } from './sources.ts';
import { defaultZipLimits, inspectXlsxArchive, type ZipLimits } from './zip-guard.ts';
import type { CsvJob, CsvMessage, RowRejection } from './csv-import-worker.ts';
import { csvParts } from './csv-split.ts';
import type { CsvRange } from './sheet-rows.ts';

/** Sheets an eGRID workbook names by kind and two-digit year; other sheets (notes, contents) are passed over. */
const EGRID_SHEET = /^(PLNT|UNT|GEN|ST|BA|SRL|NRL|US)\d\d$/i;
/**
 * Rows parsed and mapped between two turns of the event loop. An import runs on the web process: without
 * a turn now and then, a multi-MB file's rows (parsed from buffered chunks, all microtasks) held every
 * request behind them (GET /api/v1/bas took 8.3 s during a 40 MB upload).
 */
const ROWS_PER_TURN = 250;

/** Characters of COPY text per message from the CSV worker (about 1 MB: a few hundred plant rows). */
const COPY_CHUNK_CHARS = 1 << 20;
const CSV_WORKER = new URL('./csv-import-worker.ts', import.meta.url);
/**
 * From this size on a CSV is parsed by two threads, each from a record boundary of its half (bench/egrid-import.ts:
 * the reader thread, not the database, bounded the import). Below it the second thread's start-up is not worth it.
 */
export const CSV_SPLIT_BYTES = 16 << 20;

/**
 * Starts csv-import-worker.ts on a thread of its own for one CSV import; `next()` gives its messages in order,
 * `ack()` lets it run one chunk further, `close()` stops it. A worker that dies is reported as a `failed` message.
 * Its heap is capped (a young generation large enough that a chunk's rows die young, and 128 MB old space) so
 * the import's RSS stays bounded beside the main thread's.
 */
function csvImportWorker(job: CsvJob): { next(): Promise<CsvMessage>; ack(): void; close(): Promise<void> } {
  const worker = new Worker(CSV_WORKER, { workerData: { csvImport: job }, execArgv: [], resourceLimits: { maxYoungGenerationSizeMb: 32, maxOldGenerationSizeMb: 128 } });
  const queue: CsvMessage[] = [];
  let waiting: ((m: CsvMessage) => void) | undefined;
  const deliver = (m: CsvMessage) => {
    const w = waiting;
    waiting = undefined;
    if (w) w(m); else queue.push(m);
  };
  worker.on('message', deliver);
  worker.on('error', (err: Error) => deliver({ type: 'failed', message: err.message, stack: err.stack }));
  worker.on('exit', (code) => deliver({ type: 'failed', message: `the CSV reader thread stopped (exit code ${code})` }));
  return {
    next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((resolve) => { waiting = resolve; })),
    ack: () => worker.postMessage('ack'),
    close: async () => { worker.removeAllListeners('exit'); await worker.terminate(); },
  };
}

export interface InspectedFile {
  format: EgridFormat;
  sheets: { name: string; kind: EgridKind; mode: SheetHeader['mode']; editionYear: number | undefined }[];
  formulaCells: number;
}

export interface FileOptions {
  zipLimits?: ZipLimits;
  allowFormulas?: boolean;
  /** The data year given with the file (?year=, --year): the year of sheets that carry none. */
  year?: number | undefined;
}

async function* sheetsOf(path: string, format: EgridFormat, name: string, counter: { formulas: number }, onBytes?: (n: number) => void): AsyncGenerator<SourceSheet> {
  if (format === 'csv') yield csvSheet(path, name, onBytes);
  else yield* xlsxSheets(path, counter, onBytes);
}

async function checkArchive(path: string, format: EgridFormat, opts: FileOptions): Promise<number> {
  if (format !== 'xlsx') return 0;
  const zip = await inspectXlsxArchive(path, opts.zipLimits ?? defaultZipLimits);
  if (zip.formulaCells && !opts.allowFormulas) {
    throw new HttpProblem(422, `file: ${zip.formulaCells} formula cell(s) in ${zip.formulaSheets.join(', ')}; eGRID workbooks hold values, and formulas are never evaluated — save the sheet as values`, 'file');
  }
  return zip.formulaCells;
}

/**
 * Checks a file before anything is stored: its format by magic bytes (415), an XLSX's archive
 * (zip-guard.ts: 413/422; formula cells 422 unless allowFormulas), and that each sheet it would
 * import has an eGRID header with its key columns (422 naming the sheet). In a workbook the sheets
 * named like PLNT22 must all be eGRID sheets; other sheets count only if their header is one.
 * A sheet with no YEAR column whose header, sheet name and file name tell no data year (a crosswalk
 * such as xwalk_oris_subregion.csv) needs `opts.year`: without it the file is refused as a whole
 * (422 naming `year`) rather than accepted and then rejected row by row.
 */
export async function inspectEgridFile(path: string, name: string, opts: FileOptions = {}): Promise<InspectedFile> {
  const format = await sniffFormat(path);
  const formulaCells = await checkArchive(path, format, opts);
  const sheets: InspectedFile['sheets'] = [];
  const problems: string[] = [];
  const yearless: string[] = [];
  for await (const sheet of sheetsOf(path, format, name, { formulas: 0 })) {
    const found = await withHeader(sheet, name);
    if (found instanceof HeaderError) {
      if (format === 'csv' || EGRID_SHEET.test(sheet.name)) problems.push(found.message);
      continue;
    }
    let n = 0;
    for await (const row of found.rows) { // exceljs needs each sheet read to reach the next
      void row;
      if (++n % ROWS_PER_TURN === 0) await nextTurn();
    }
    if (found.header.yearIndex < 0 && found.header.editionYear === undefined && opts.year === undefined) yearless.push(sheet.name);
    sheets.push({ name: sheet.name, kind: found.header.kind, mode: found.header.mode, editionYear: found.header.editionYear });
  }
  if (problems.length) throw new HttpProblem(422, `file: ${problems.join('; ')}`, 'file');
  if (!sheets.length) throw new HttpProblem(422, 'file: no eGRID sheet (PLNTyy, UNTyy, GENyy, STyy, BAyy, SRLyy, NRLyy or USyy with its code row) in the workbook', 'file');
  if (yearless.length) {
    throw new HttpProblem(422, `year: ${yearless.join(', ')} has no YEAR column and neither its header nor its name tells a data year; give the data year (?year=, --year)`, 'year');
  }
  return { format, sheets, formulaCells };
}

export interface ImportProgress { phase: string; bytesRead: number; bytesTotal: number; rowsRead: number; rowsLoaded: number; rowsRejected: number }

export interface ImportRequest {
  db: Db;
  logger: Logger;
  importId: number;
  path: string;
  /** The name the file came with: it may tell the data year (egrid2021_…). */
  fileName?: string;
  /** Import only rows of this data year; the year of sheets that carry none. */
  year?: number | undefined;
  options?: FileOptions;
  /** Row errors listed (all are counted). */
  errorCap?: number;
  /** Rows per COPY into staging. */
  batchRows?: number;
  /** Reader threads of a CSV, each parsing its own part of the file (default: 2 from CSV_SPLIT_BYTES on, else 1). */
  csvReaders?: number;
  /** Who started the import: each data year and kind it replaces or amends is audited as theirs, in the import's transaction. */
  actor: AuditActor;
  onProgress?: (p: ImportProgress) => void;
}

export interface ImportOutcome {
  status: ImportStatus;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
  sheets: (ImportSheetResult & { rowsSkipped: number; mode: SheetHeader['mode'] })[];
  errors: ImportRowError[];
  formulaCells: number;
  message: string | null;
}

const quote = (id: string) => `"${id}"`;
const joinKeys = (keys: string[]) => keys.join(', ');

/**
 * Imports an eGRID file in ONE transaction: each sheet's rows are parsed as they stream and COPYed
 * into a temporary staging table (a CSV on a worker thread, csv-import-worker.ts, as one COPY stream; an XLSX
 * here, in batches; memory stays bounded either way), then per data
 * year and kind the store's rows are replaced (full sheet: delete + insert) or merged (partial
 * sheet: upsert of the columns it has) from staging. Readers see the previous year until the
 * commit and the whole new year after it. Row rules (rows.ts): a row with an unreadable cell is
 * rejected whole; a second row with the same key is rejected (the first stays); blank and junk
 * lines are skipped. Throws an HttpProblem when the file as a whole cannot be imported.
 */
export async function importEgridFile(req: ImportRequest): Promise<ImportOutcome> {
  const { db, logger, importId } = req;
  const name = req.fileName ?? basename(req.path);
  const errorCap = req.errorCap ?? 100;
  const batchRows = req.batchRows ?? 2000;
  const format = await sniffFormat(req.path);
  const bytesTotal = (await stat(req.path)).size;
  const counter = { formulas: 0 };
  counter.formulas = 0;
  await checkArchive(req.path, format, req.options ?? {});
  const progress: ImportProgress = { phase: 'reading', bytesRead: 0, bytesTotal, rowsRead: 0, rowsLoaded: 0, rowsRejected: 0 };
  const errors: ImportRowError[] = [];
  const sheets: ImportOutcome['sheets'] = [];
  let lastReport = 0;
  const report = (force = false) => {
    const now = Date.now();
    if (!force && now - lastReport < 250) return;
    lastReport = now;
    req.onProgress?.({ ...progress });
  };
  const list = (sheet: string, line: number, column: string | null, code: string, message: string) => {
    if (errors.length < errorCap) errors.push({ sheet, line, column, code, message });
  };
  const reject = (sheet: string, line: number, column: string | null, code: string, message: string) => {
    progress.rowsRejected++;
    list(sheet, line, column, code, message);
  };

  const headerProblems: string[] = [];
  await db.transaction(async (tx) => {
    let stageNo = 0;
    /** Loads one sheet: `stageRows` fills its staging table (and counts rows read and skipped), then the swap. */
    const loadSheet = async (sheetName: string, header: SheetHeader, stageRows: (stage: string, columns: readonly string[]) => Promise<{ read: number; skipped: number }>) => {
      const { table, columns } = tableOf(header.kind);
      const stage = `egrid_stage_${++stageNo}`;
      await tx.query(`CREATE TEMP TABLE ${stage} (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`);
      let rejectedHere = progress.rowsRejected;
      const { read, skipped } = await stageRows(stage, columns);
      progress.phase = 'swapping';
      report(true);
      const results = await swap(tx, stage, header, name, importId, (line, message) => reject(sheetName, line, null, 'duplicate-key', message));
      for (const r of results) {
        await audit(tx, { ...req.actor, action: header.mode === 'replace' ? 'egrid.dataset.replace' : 'egrid.dataset.merge', outcome: 'success',
          objectType: 'egrid_dataset', objectId: `${r.dataYear}/${r.kind}`,
          detail: { importId, sheet: sheetName, dataYear: r.dataYear, kind: r.kind, rowsLoaded: r.rowsLoaded, replaced: r.replaced } });
      }
      rejectedHere = progress.rowsRejected - rejectedHere;
      for (const r of results) {
        progress.rowsLoaded += r.rowsLoaded;
        sheets.push({ sheet: sheetName, kind: r.kind, dataYear: r.dataYear, rowsRead: r.rowsLoaded, rowsLoaded: r.rowsLoaded,
          rowsRejected: 0, replaced: r.replaced, rowsSkipped: 0, mode: header.mode });
      }
      if (results.length) {
        // rejected and skipped rows belong to no year: they are told on the sheet's first result
        sheets[sheets.length - results.length]!.rowsRejected = rejectedHere;
        sheets[sheets.length - results.length]!.rowsSkipped = skipped;
        sheets[sheets.length - results.length]!.rowsRead = read;
      } else {
        sheets.push({ sheet: sheetName, kind: header.kind, dataYear: req.year ?? header.editionYear ?? 0, rowsRead: read, rowsLoaded: 0,
          rowsRejected: rejectedHere, replaced: 0, rowsSkipped: skipped, mode: header.mode });
      }
      logger.info({ sheet: sheetName, kind: header.kind, read, skipped, loaded: results.reduce((s, r) => s + r.rowsLoaded, 0) }, 'egrid sheet imported');
      progress.phase = 'reading';
    };

    if (format === 'csv') {
      // CSV: read, mapped and encoded on worker threads (csv-import-worker.ts), one per part of the file (csv-split.ts);
      // this thread streams their COPY text, in whatever order it comes (staging keeps each row's line)
      const parts = await csvParts(req.path, req.csvReaders ?? (bytesTotal >= CSV_SPLIT_BYTES ? 2 : 1));
      const job = (range: CsvRange, header?: SheetHeader): CsvJob => ({ path: req.path, name, year: req.year, importId, chunkChars: COPY_CHUNK_CHARS, window: 4, range, header });
      const workers = [csvImportWorker(job(parts[0]!))];
      try {
        const first = await workers[0]!.next();
        if (first.type === 'header-error') headerProblems.push(first.message);
        else if (first.type !== 'header') throw new Error(`eGRID CSV worker: expected the header, got ${first.type}`);
        else {
          for (const part of parts.slice(1)) workers.push(csvImportWorker(job(part, first.header)));
          await loadSheet(name, first.header, async (stage, columns) => {
            const counts = { read: 0, skipped: 0 };
            // each part's rejected rows are listed after the parts before it, so the list is in line order as with one reader
            const listed = workers.map((): RowRejection[] => []);
            await tx.copyTextInto(stage, columns, (async function* () {
              const nextOf = (i: number) => workers[i]!.next().then((m) => ({ i, m }));
              const pending = new Map(workers.map((_, i) => [i, nextOf(i)]));
              while (pending.size) {
                const { i, m } = await Promise.race(pending.values());
                if (m.type === 'done') { pending.delete(i); continue; }
                if (m.type !== 'rows') throw new Error(`eGRID CSV worker: ${m.type === 'failed' ? m.message : `unexpected ${m.type}`}`);
                pending.set(i, nextOf(i));
                counts.read += m.read; counts.skipped += m.skipped;
                progress.rowsRead += m.read;
                progress.bytesRead += m.bytes;
                progress.rowsRejected += m.rejected.length;
                for (const r of m.rejected) if (listed[i]!.length < errorCap) listed[i]!.push(r);
                report();
                if (m.text) yield m.text;
                workers[i]!.ack();
              }
            })());
            for (const part of listed) for (const r of part) list(name, r.line, r.column, r.code, r.message);
            return counts;
          });
        }
      } finally {
        await Promise.all(workers.map((w) => w.close()));
      }
    } else {
      for await (const sheet of sheetsOf(req.path, format, name, counter, (n) => { progress.bytesRead += n; report(); })) {
        const found = await withHeader(sheet, name);
        if (found instanceof HeaderError) {
          if (EGRID_SHEET.test(sheet.name)) headerProblems.push(found.message);
          continue;
        }
        const { header } = found;
        await loadSheet(sheet.name, header, async (stage, columns) => {
          let batch: CopyValue[][] = [];
          let read = 0; let skipped = 0;
          // one COPY in flight while the next batch is parsed: the server works while we read
          let inFlight: Promise<void> = Promise.resolve();
          const flush = async () => {
            await inFlight;
            if (!batch.length) return;
            const rows = batch;
            batch = [];
            inFlight = tx.copyInto(stage, columns, rows);
            inFlight.catch(() => {}); // awaited at the next flush
          };
          const fallbackYear = header.editionYear ?? req.year;
          let sinceTurn = 0;
          for await (const row of found.rows) {
            if (++sinceTurn >= ROWS_PER_TURN) { sinceTurn = 0; await nextTurn(); }
            if ('error' in row) { read++; progress.rowsRead++; reject(sheet.name, row.line, null, 'unreadable-line', row.error); continue; }
            const mapped = mapRow(row.cells, { header, fallbackYear, onlyYear: req.year, line: row.line, importId });
            if (mapped.ok === 'skip') { skipped++; continue; }
            read++;
            progress.rowsRead++;
            if (mapped.ok === false) { reject(sheet.name, row.line, mapped.problem.column, mapped.problem.code, mapped.problem.message); continue; }
            batch.push(mapped.values);
            if (batch.length >= batchRows) await flush();
            report();
          }
          await flush();
          await inFlight;
          return { read, skipped };
        });
      }
    }
    if (headerProblems.length) throw new HttpProblem(422, `file: ${headerProblems.join('; ')}`, 'file');
    if (!sheets.length) throw new HttpProblem(422, 'file: no eGRID sheet (PLNTyy, UNTyy, GENyy, STyy, BAyy, SRLyy, NRLyy or USyy with its code row) in the workbook', 'file');
  });
  progress.phase = 'done';
  report(true);
  const status: ImportStatus = progress.rowsRejected === 0 ? 'succeeded' : progress.rowsLoaded > 0 ? 'partial' : 'failed';
  return { status, rowsRead: progress.rowsRead, rowsLoaded: progress.rowsLoaded, rowsRejected: progress.rowsRejected, sheets, errors,
    formulaCells: counter.formulas, message: status === 'failed' ? 'no row could be loaded' : null };
}

interface SwapResult { dataYear: number; kind: EgridKind; rowsLoaded: number; replaced: number }

/** Moves a staging table into the store: per data year (and aggregate level) a full sheet replaces, a partial one merges. */
async function swap(tx: Db, stage: string, header: SheetHeader, sheetName: string, importId: number,
  duplicate: (line: number, message: string) => void): Promise<SwapResult[]> {
  const { table, columns: copied } = tableOf(header.kind);
  const aggregate = table === 'egrid_aggregates';
  const numbered = header.kind === 'generator' || header.kind === 'unit';
  // `occurrence` is worked out here from staging, not read from the file
  const columns: readonly string[] = numbered ? [...copied, 'occurrence'] : copied;
  const keys = ['data_year', ...(aggregate ? ['level'] : []), ...header.keyColumns];
  // units and generators: eGRID lists distinct real units under one (ORISPL, GENID/UNITID); a row that
  // repeats another in every column is a duplicate, the others are numbered by `occurrence` in file order
  const sameAs = numbered ? [...keys, ...columns.filter((c) => !keys.includes(c) && !['seq', 'source_line', 'import_id', 'occurrence'].includes(c))] : keys;
  const dupes = await tx.query<{ source_line: number; first_line: number }>(
    `SELECT source_line, first_line FROM (SELECT source_line, first_value(source_line) OVER w AS first_line, row_number() OVER w AS rn
       FROM ${stage} WINDOW w AS (PARTITION BY ${sameAs.map(quote).join(', ')} ORDER BY source_line)) d WHERE rn > 1 ORDER BY source_line`);
  for (const d of dupes) {
    duplicate(d.source_line, numbered
      ? `the same row as line ${d.first_line} (every column equal; the first row is kept)`
      : `the same ${header.keyColumns.join(' + ')} as line ${d.first_line} (data year and key must be unique; the first row is kept)`);
  }
  // the duplicates leave staging here, so that staging is unique by key and moves into the store without a sort
  if (dupes.length) await tx.query(`DELETE FROM ${stage} WHERE source_line = ANY($1::int[])`, [dupes.map((d) => d.source_line)]);
  if (numbered) {
    await tx.query(`UPDATE ${stage} s SET occurrence = o.n FROM (SELECT source_line, row_number() OVER (PARTITION BY ${joinKeys(keys)} ORDER BY source_line) AS n
      FROM ${stage}) o WHERE s.source_line = o.source_line AND o.n > 1`);
    keys.push('occurrence');
  }
  const keyList = keys.join(', ');
  const groups = await tx.query<{ data_year: number; kind: string; n: string | number }>(
    `SELECT data_year, ${aggregate ? 'level' : `'${header.kind}'`} AS kind, count(*) AS n FROM ${stage} GROUP BY 1, 2 ORDER BY 1, 2`);
  if (!groups.length) return [];
  // one import of a table at a time (PostgreSQL); readers are never blocked
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`gridpulse:${table}`]);
  const replaced = new Map<string, number>();
  const bySeq = header.keyColumns[0] === 'seq';
  if (header.mode === 'replace') {
    for (const g of groups) {
      if (bySeq) {
        const [withOrispl] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM egrid_plants WHERE data_year = $1 AND orispl IS NOT NULL', [g.data_year]);
        if (withOrispl!.n > 0) {
          throw new HttpProblem(422, `file: ${sheetName} has no ORISPL and eGRID ${g.data_year} plants with ORISPL are loaded; its rows (keyed by SEQPLT) would count those plants twice`, 'file');
        }
      }
      const rows = await tx.query<{ n: string | number }>(
        `WITH gone AS (DELETE FROM ${table} WHERE data_year = $1 ${aggregate ? 'AND level = $2' : ''} ${bySeq ? 'AND orispl IS NULL' : ''} RETURNING 1) SELECT count(*) AS n FROM gone`,
        aggregate ? [g.data_year, g.kind] : [g.data_year]);
      replaced.set(`${g.data_year}/${g.kind}`, Number(rows[0]?.n ?? 0));
    }
    await tx.query(`INSERT INTO ${table} (${columns.map(quote).join(', ')}) SELECT ${columns.map(quote).join(', ')} FROM ${stage} s`);
  } else {
    const present = new Set(header.columns.flatMap((c) => (c && 'spec' in c ? [c.spec.column] : [])));
    const bag = aggregate ? 'measures' : 'extra';
    const updates = columns.filter((c) => present.has(c) && !keys.includes(c)).map((c) => `${quote(c)} = EXCLUDED.${quote(c)}`);
    updates.push(`${bag} = ${table}.${bag} || EXCLUDED.${bag}`, `source_line = EXCLUDED.source_line`, `import_id = EXCLUDED.import_id`,
      `not_calculated = ARRAY(SELECT DISTINCT unnest(${table}.not_calculated || EXCLUDED.not_calculated))`);
    if (aggregate) {
      await tx.query(`INSERT INTO ${table} (${columns.map(quote).join(', ')}) SELECT ${columns.map(quote).join(', ')} FROM ${stage} s
        ON CONFLICT (${keyList}) DO UPDATE SET ${updates.join(', ')}`);
    } else {
      // a partial plant/unit/generator sheet (a crosswalk) amends the rows a full sheet loaded; it creates none
      const sets = updates.map((u) => u.replaceAll('EXCLUDED.', 's.').replaceAll(`${table}.`, 't.'));
      const matched = await tx.query<{ data_year: number; n: string | number }>(
        `WITH done AS (UPDATE ${table} t SET ${sets.join(', ')} FROM ${stage} s WHERE ${keys.map((k) => `t.${k} = s.${k}`).join(' AND ')} RETURNING t.data_year)
         SELECT data_year, count(*) AS n FROM done GROUP BY 1`);
      for (const g of groups) g.n = Number(matched.find((m) => m.data_year === g.data_year)?.n ?? 0);
    }
  }
  const file = await tx.query<{ file_sha256: string }>('SELECT file_sha256 FROM egrid_imports WHERE id = $1', [importId]);
  for (const g of groups) {
    await tx.query(`INSERT INTO egrid_datasets (data_year, kind, edition, import_id, file_sha256, sheet, row_count) VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (data_year, kind) ${header.mode === 'replace' ? `DO UPDATE SET edition = EXCLUDED.edition, import_id = EXCLUDED.import_id,
        file_sha256 = EXCLUDED.file_sha256, sheet = EXCLUDED.sheet, row_count = EXCLUDED.row_count, loaded_at = now()` : 'DO NOTHING'}`,
    [g.data_year, g.kind, `eGRID${g.data_year}`, importId, file[0]?.file_sha256 ?? '', sheetName, Number(g.n)]);
  }
  return groups.map((g) => ({ dataYear: g.data_year, kind: g.kind as EgridKind, rowsLoaded: Number(g.n), replaced: replaced.get(`${g.data_year}/${g.kind}`) ?? 0 }));
}

export { columnsOf };
