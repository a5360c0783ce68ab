import type { Logger } from 'pino';
import type { AuditActor } from '../auth/audit.ts';
import type { Db } from '../platform/db.ts';
import { JOB_BUCKETS, metricsOf, once, type Metrics } from '../platform/metrics.ts';
import { HttpProblem } from '../platform/problem.ts';
import { getImport, type EgridImport } from './egrid-repository.ts';
import { importEgridFile, type FileOptions, type ImportOutcome, type ImportProgress } from './import-file.ts';

/** Progress of imports running in this process, for readers that cannot see the import's own transaction. */
const live = new Map<number, ImportProgress>();

export interface NewImport {
  fileSha256: string;
  fileName: string;
  source: 'upload' | 'cli';
  requestedYear?: number | undefined;
  createdBy?: string | null | undefined;
  bytesTotal?: number | undefined;
}

/** Records a queued import job and returns its id. */
export async function createImport(db: Db, job: NewImport): Promise<number> {
  const rows = await db.query<{ id: number }>(
    `INSERT INTO egrid_imports (file_sha256, file_name, source, requested_year, created_by, bytes_total) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [job.fileSha256, job.fileName, job.source, job.requestedYear ?? null, job.createdBy ?? null, job.bytesTotal ?? null]);
  return rows[0]!.id;
}

export interface RunJob {
  db: Db;
  logger: Logger;
  importId: number;
  path: string;
  fileName: string;
  year?: number | undefined;
  options?: FileOptions;
  /** Who started the import (the uploader, or systemActor('cli')): the replace of each data year is audited as theirs. */
  actor: AuditActor;
  onProgress?: (p: ImportProgress) => void;
}

/**
 * The eGRID import metrics of a registry: `gridpulse_egrid_imports_total{status}` (succeeded, partial, failed),
 * `gridpulse_egrid_import_duration_seconds{status}` and `gridpulse_egrid_import_rows_total{outcome}` (stored: loaded
 * into the store; rejected: refused row by row). Every label starts at 0, so the first failure is an increase for
 * the alert rules (deploy/prometheus/alerts.yml); called at startup by each role that imports (src/cli/main.ts).
 */
export function egridImportMetrics(m: Metrics) {
  const imports = m.counter('gridpulse_egrid_imports_total', 'eGRID import jobs finished, by status (succeeded, partial, failed)', ['status']);
  const duration = m.histogram('gridpulse_egrid_import_duration_seconds', 'eGRID import job duration, seconds, by status', ['status'], JOB_BUCKETS);
  const rows = m.counter('gridpulse_egrid_import_rows_total', 'eGRID rows by outcome: stored, or rejected (an unreadable cell, a duplicate key)', ['outcome']);
  if (once(m, 'egrid-import')) {
    for (const status of ['succeeded', 'partial', 'failed']) { imports.inc({ status }, 0); duration.zero({ status }); }
    for (const outcome of ['stored', 'rejected']) rows.inc({ outcome }, 0);
  }
  return { imports, duration, rows };
}

/** Counts a finished import in the registry attached to `db` (none attached: not measured). */
function countImport(db: Db, status: ImportOutcome['status'] | 'failed', seconds: number, rowsLoaded: number, rowsRejected: number): void {
  const m = metricsOf(db);
  if (!m) return;
  const { imports, duration, rows } = egridImportMetrics(m);
  imports.inc({ status });
  duration.observe({ status }, seconds);
  rows.inc({ outcome: 'stored' }, rowsLoaded);
  rows.inc({ outcome: 'rejected' }, rowsRejected);
}

/**
 * Runs an import job to its end and records the outcome on its egrid_imports row (and in /metrics: countImport); never
 * throws for a bad file (the job fails with the reason). Progress is written to the row about once a
 * second on PostgreSQL (another connection than the import's transaction); PGlite has a single
 * connection that the transaction holds, so there it is kept in memory for getImportView.
 */
export async function runImportJob(job: RunJob): Promise<ImportOutcome | undefined> {
  const { db, logger, importId } = job;
  const log = logger.child({ importId });
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  await db.query(`UPDATE egrid_imports SET status = 'running', phase = 'reading', started_at = now() WHERE id = $1`, [importId]);
  let lastWrite = 0;
  let writing: Promise<unknown> = Promise.resolve();
  const onProgress = (p: ImportProgress) => {
    live.set(importId, p);
    job.onProgress?.(p);
    if (db.kind !== 'postgres' || Date.now() - lastWrite < 1000) return;
    lastWrite = Date.now();
    writing = db.query(`UPDATE egrid_imports SET phase = $2, bytes_read = $3, rows_read = $4, rows_loaded = $5, rows_rejected = $6 WHERE id = $1`,
      [importId, p.phase, p.bytesRead, p.rowsRead, p.rowsLoaded, p.rowsRejected]).catch((err: unknown) => log.warn({ err }, 'egrid import progress not recorded'));
  };
  try {
    log.info({ file: job.fileName, year: job.year }, 'egrid import started');
    const out = await importEgridFile({ db, logger: log, importId, path: job.path, fileName: job.fileName, year: job.year, options: job.options ?? {}, actor: job.actor, onProgress });
    await writing;
    await db.query(`UPDATE egrid_imports SET status = $2, phase = NULL, rows_read = $3, rows_loaded = $4, rows_rejected = $5, sheets = $6::text::jsonb,
      errors = $7::text::jsonb, message = $8, finished_at = now(), bytes_read = coalesce(bytes_total, bytes_read) WHERE id = $1`,
    [importId, out.status, out.rowsRead, out.rowsLoaded, out.rowsRejected, JSON.stringify(out.sheets), JSON.stringify(out.errors), out.message]);
    log.info({ status: out.status, rowsLoaded: out.rowsLoaded, rowsRejected: out.rowsRejected }, 'egrid import finished');
    countImport(db, out.status, seconds(), out.rowsLoaded, out.rowsRejected);
    return out;
  } catch (err) {
    await writing;
    const message = err instanceof HttpProblem ? err.message : 'internal error while importing (logged)';
    if (!(err instanceof HttpProblem)) log.error({ err }, 'egrid import failed');
    else log.warn({ reason: err.message }, 'egrid import rejected');
    countImport(db, 'failed', seconds(), 0, 0);
    await db.query(`UPDATE egrid_imports SET status = 'failed', phase = NULL, message = $2, finished_at = now() WHERE id = $1`, [importId, message]);
    if (err instanceof HttpProblem) throw err;
    return undefined;
  } finally {
    live.delete(importId);
  }
}

/** An import as stored, with the live progress of one running in this process. */
export async function getImportView(db: Db, id: number): Promise<EgridImport | undefined> {
  const row = await getImport(db, id);
  const p = live.get(id);
  if (!row || !p || row.status !== 'running') return row;
  return { ...row, phase: p.phase, bytesRead: p.bytesRead, rowsRead: p.rowsRead, rowsLoaded: p.rowsLoaded, rowsRejected: p.rowsRejected };
}
