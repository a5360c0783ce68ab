import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { pino } from 'pino';
import { loadConfig } from '../platform/config.ts';
import { openDb } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { systemActor } from '../auth/audit.ts';
import { HttpProblem } from '../platform/problem.ts';
import { sha256File } from '../egrid/file-store.ts';
import { inspectEgridFile } from '../egrid/import-file.ts';
import { createImport, runImportJob } from '../egrid/import-jobs.ts';

export interface EgridImportOptions { year?: string; allowFormulas?: boolean; maxErrors?: number }

/** Row errors printed after an import (the job keeps the first 100). */
export const DEFAULT_ERRORS_SHOWN = 20;

/**
 * An HttpProblem refusing a file, worded for the command line: the file is named once (the problem's
 * detail often names it already), and `year` points to --year.
 */
export function cliProblem(err: HttpProblem, name: string): string {
  const detail = err.message.replace(/^(file|year): /, '').replace(/\?year=, --year/, '--year');
  return detail.startsWith(`${name}:`) || detail.startsWith(`${name} `) ? detail : `${name}: ${detail}`;
}

/**
 * `gridpulse egrid import PATH [--year N]`: imports an eGRID CSV or XLSX into the store with a
 * progress bar on stderr. Exit code 0 when every row loaded, 2 when some rows were rejected (listed),
 * 1 when the file was refused or nothing loaded.
 */
export async function egridImportCommand(file: string, opts: EgridImportOptions): Promise<number> {
  const year = opts.year === undefined ? undefined : Number(opts.year);
  if (year !== undefined && !(Number.isInteger(year) && year >= 1996 && year <= 2100)) throw new Error(`--year: not a data year: ${opts.year}`);
  const config = loadConfig();
  const logger = pino({ level: config.LOG_LEVEL }, pino.destination(2));
  const db = await openDb({ databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
  try {
    await migrate(db);
    const name = basename(file);
    const size = (await stat(file)).size;
    const sha256 = await sha256File(file);
    const options = { allowFormulas: opts.allowFormulas === true, year };
    const inspected = await inspectEgridFile(file, name, options).catch((err: unknown) => {
      if (err instanceof HttpProblem) throw new Error(cliProblem(err, name), { cause: err });
      throw err;
    });
    const earlier = await db.query<{ id: number; status: string }>(`SELECT id, status FROM egrid_imports WHERE file_sha256 = $1 ORDER BY id DESC LIMIT 1`, [sha256]);
    if (earlier[0]) process.stderr.write(`the same file (sha256 ${sha256.slice(0, 12)}…) was imported before as import ${earlier[0].id} (${earlier[0].status}); importing again replaces those rows\n`);
    process.stderr.write(`${name}: ${inspected.format.toUpperCase()}, sheets ${inspected.sheets.map((s) => `${s.name} (${s.kind}${s.mode === 'merge' ? ', merged' : ''})`).join(', ')}\n`);
    const importId = await createImport(db, { fileSha256: sha256, fileName: name, source: 'cli', requestedYear: year, bytesTotal: size });
    const bar = new SingleBar({ format: 'egrid import [{bar}] {percentage}% | {rows} rows | {phase} | {eta_formatted} left', stream: process.stderr }, Presets.shades_classic);
    bar.start(size, 0, { rows: 0, phase: 'reading' });
    const out = await runImportJob({ db, logger, importId, actor: systemActor('cli'), path: file, fileName: name, year, options,
      onProgress: (p) => bar.update(Math.min(p.bytesRead, size), { rows: p.rowsRead, phase: p.phase }) })
      .finally(() => bar.stop());
    if (!out) return 1;
    for (const s of out.sheets) {
      process.stdout.write(`${s.sheet}: ${s.kind} ${s.dataYear}: ${s.rowsLoaded} rows loaded (${s.mode === 'replace' ? `replacing ${s.replaced}` : 'merged'})` +
        `${s.rowsRejected ? `, ${s.rowsRejected} rejected` : ''}${s.rowsSkipped ? `, ${s.rowsSkipped} blank or other-year lines skipped` : ''}\n`);
    }
    for (const e of out.errors.slice(0, opts.maxErrors ?? DEFAULT_ERRORS_SHOWN)) process.stdout.write(`  ${e.sheet} line ${e.line}${e.column ? ` ${e.column}` : ''}: ${e.message}\n`);
    const shown = Math.min(out.errors.length, opts.maxErrors ?? DEFAULT_ERRORS_SHOWN);
    if (out.rowsRejected > shown) {
      // no pointer to the HTTP API: the server may not be running where the CLI is
      process.stdout.write(`  … ${out.rowsRejected - shown} more rejected row(s)${out.errors.length > shown ? ' (more with --max-errors N)' : ''}\n`);
    }
    process.stdout.write(`import ${importId}: ${out.status}\n`);
    return out.status === 'succeeded' ? 0 : out.status === 'partial' ? 2 : 1;
  } finally {
    await db.close();
  }
}
