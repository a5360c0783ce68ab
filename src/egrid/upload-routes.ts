import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import { z } from 'zod';
import { actorOf, auditRequest } from '../auth/audit.ts';
import type { Db } from '../platform/db.ts';
import { HttpProblem } from '../platform/problem.ts';
import { queryInt } from '../platform/query.ts';
import { getFile, listImports } from './egrid-repository.ts';
import { discardUpload, keepUpload, stageUpload } from './file-store.ts';
import { inspectEgridFile } from './import-file.ts';
import { createImport, getImportView, runImportJob } from './import-jobs.ts';
import { defaultZipLimits, type ZipLimits } from './zip-guard.ts';

export interface EgridUploadOptions {
  /** Uploads are kept under DATA_DIR/uploads (default: a folder in the OS temp dir, for tests). */
  dataDir?: string;
  /** Largest upload accepted, bytes (EGRID_UPLOAD_MAX_BYTES; default 150 MB). */
  maxUploadBytes?: number;
  zipLimits?: ZipLimits;
}

/** Admins and analysts, or a personal key with egrid:write whose owner is one (a key also polls its imports). */
const UPLOADERS = { access: { roles: ['admin', 'analyst'] as const, scopes: ['egrid:write'] } };
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

/**
 * eGRID file uploads and the import jobs they start (issue 13, "Files in"). Uploads and import
 * status need the admin or analyst role (signed in, or a personal key with egrid:write owned by one).
 */
export async function egridUploadRoutes(app: FastifyInstance, deps: { db: Db; logger: Logger; egrid?: EgridUploadOptions | undefined }): Promise<void> {
  const { db } = deps;
  const dataDir = deps.egrid?.dataDir ?? path.join(os.tmpdir(), `gridpulse-uploads-${process.pid}`);
  const maxBytes = deps.egrid?.maxUploadBytes ?? 150 * 1024 * 1024;
  const zipLimits = deps.egrid?.zipLimits ?? defaultZipLimits;
  const running = new Set<Promise<unknown>>();
  app.addHook('onClose', async () => { await Promise.allSettled([...running]); });

  await app.register(async (scope) => {
    // multipart only in this scope: no other route accepts it
    await scope.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 4, parts: 5, headerPairs: 100 } });
    const r = scope.withTypeProvider<ZodTypeProvider>();
    r.post('/api/v1/egrid/uploads', {
      config: UPLOADERS,
      schema: {
        summary: 'Upload an eGRID CSV or XLSX workbook and start its import (admin or analyst)',
        description: 'multipart/form-data with one part `file`. The file is streamed to storage (content-addressed by SHA-256, never held in memory) '
          + `and checked before anything is kept: over ${maxBytes} bytes → 413; neither CSV text nor an XLSX zip by its magic bytes → 415; `
          + 'an XLSX archive that inflates beyond the limits (zip bomb) → 413; paths with `..` or absolute paths, symbolic links, formula cells, '
          + 'no eGRID sheet (PLNTyy, UNTyy, GENyy, STyy, BAyy, SRLyy, NRLyy, USyy) or a sheet without its key column (ORISPL, GENID, UNITID, region code) → 422 '
          + 'with `field: file`; a sheet with no YEAR column whose header and names tell no data year, sent without `year` → 422 with `field: year`. '
          + 'Each is application/problem+json, and nothing is stored. Accepted: 202 with the import job '
          + '(GET /api/v1/egrid/imports/{id} for progress and row errors). The same bytes uploaded again: 200 with `duplicate: true`, '
          + 'the stored file and its latest import, and no new import unless `reimport=true`. `year` imports only that data year '
          + '(and is the year of sheets that carry none).',
        querystring: z.object({
          year: queryInt(1996, 2100).optional().describe('eGRID data year'),
          reimport: z.enum(['true', 'false']).optional().describe('import a file already uploaded again'),
        }),
      },
    }, async (req, reply) => {
      if (!req.isMultipart()) throw new HttpProblem(415, 'content-type: send multipart/form-data with a part named file', 'content-type');
      const part = await req.file();
      if (!part || part.fieldname !== 'file') throw new HttpProblem(422, 'file: no multipart part named file', 'file');
      let staged;
      try {
        staged = await stageUpload(dataDir, part.file, maxBytes);
      } catch (err) {
        if ((err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw new HttpProblem(413, `file: larger than ${maxBytes} bytes`, 'file');
        throw err;
      }
      if (staged.truncated || part.file.truncated) {
        await discardUpload(staged);
        throw new HttpProblem(413, `file: larger than ${maxBytes} bytes`, 'file');
      }
      const fileName = path.basename(part.filename || 'upload').slice(0, 200);
      let inspected;
      try {
        inspected = await inspectEgridFile(staged.tmpPath, fileName, { zipLimits, year: req.query.year });
      } catch (err) {
        await discardUpload(staged);
        throw err;
      }
      const known = await getFile(db, staged.sha256);
      if (known && req.query.reimport !== 'true') {
        await discardUpload(staged);
        const latest = await db.query<{ id: number }>('SELECT id FROM egrid_imports WHERE file_sha256 = $1 ORDER BY id DESC LIMIT 1', [staged.sha256]);
        return reply.code(200).send({ duplicate: true, file: known, import: latest[0] ? await getImportView(db, latest[0].id) : null });
      }
      const storagePath = await keepUpload(dataDir, staged, inspected.format);
      // the file, its import job and the audit record of the upload commit together
      const importId = await db.transaction(async (tx) => {
        await tx.query(`INSERT INTO egrid_files (sha256, byte_size, media_type, original_name, storage_path, uploaded_by, formula_cells)
          VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sha256) DO NOTHING`,
        [staged.sha256, staged.bytes, inspected.format === 'csv' ? 'text/csv' : XLSX, fileName, storagePath, req.principal?.userId ?? null, inspected.formulaCells]);
        const id = await createImport(tx, { fileSha256: staged.sha256, fileName, source: 'upload', requestedYear: req.query.year,
          createdBy: req.principal?.userId ?? null, bytesTotal: staged.bytes });
        await auditRequest(tx, req, { action: 'egrid.upload', outcome: 'success', objectType: 'egrid_import', objectId: String(id),
          detail: { importId: id, sha256: staged.sha256, byteSize: staged.bytes, fileName, year: req.query.year ?? null,
            sheets: inspected.sheets.map((sh) => sh.name), reimport: known !== undefined } });
        return id;
      });
      const job = runImportJob({ db, logger: deps.logger.child({ reqId: req.id }), importId, actor: actorOf(req), path: path.resolve(dataDir, storagePath), fileName, year: req.query.year, options: { zipLimits } })
        .catch((err: unknown) => req.log.warn({ err, importId }, 'egrid import job ended with an error'));
      running.add(job);
      void job.finally(() => running.delete(job));
      return reply.code(202).header('location', `/api/v1/egrid/imports/${importId}`).send({
        duplicate: false, importId, status: 'queued', file: { sha256: staged.sha256, byteSize: staged.bytes, originalName: fileName, format: inspected.format },
        sheets: inspected.sheets,
      });
    });
  });

  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/api/v1/egrid/imports/:id', {
    config: UPLOADERS,
    schema: {
      summary: 'An eGRID import job: status, progress and row errors (admin or analyst)',
      description: 'status queued | running | succeeded (every row loaded) | partial (some rows rejected, the rest loaded) | failed (file refused or nothing loaded; `message` says why). '
        + 'While running: `phase` (reading, swapping), `bytesRead` of `bytesTotal`, `rowsRead`, `rowsRejected`. `sheets`: per sheet and data year, rows read, loaded '
        + '(replacing `replaced` rows of that year, or merged for a partial sheet such as a crosswalk), rejected and skipped (blank or junk lines). '
        + '`errors`: the first 100 row errors {sheet, line (1-based CSV line or XLSX row), column (eGRID code), code (bad-value, missing-key, duplicate-key, no-year, unreadable-line), message}; '
        + '`rowsRejected` counts them all. A rejected row is not loaded; every other row is.',
      params: z.object({ id: queryInt(1) }),
    },
  }, async (req) => {
    const row = await getImportView(db, req.params.id);
    if (!row) throw new HttpProblem(404, `id: no eGRID import ${req.params.id}`, 'id');
    return row;
  });

  r.get('/api/v1/egrid/imports', {
    config: UPLOADERS,
    schema: {
      summary: 'eGRID import jobs, newest first (admin or analyst)',
      querystring: z.object({ limit: queryInt(1, 200).default(50) }),
    },
  }, async (req) => ({ data: await listImports(db, req.query.limit) }));
}
