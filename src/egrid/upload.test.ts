import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import ExcelJS from 'exceljs';
import JSZip from 'jszip';
import { pino } from 'pino';
import { buildApp } from '../app.ts';
import { memoryCache } from '../platform/cache.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { testDatabases } from '../../test/support/databases.ts';
import { authHeaders } from '../../test/support/auth.ts';

const MAX = 256 * 1024;
const zipLimits = { maxUncompressedBytes: 4 * 1024 * 1024, maxRatio: 100, maxEntries: 50 };

function multipart(name: string, content: Buffer | string, field = 'file') {
  const boundary = `----gp${Math.random().toString(16).slice(2)}`;
  const payload = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    Buffer.isBuffer(content) ? content : Buffer.from(content),
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { payload, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

const GEN = (year: number, rows: number, mw = 3) => ['SEQGEN,YEAR,PSTATABB,PNAME,ORISPL,GENID,NAMEPCAP,CFACT,GENNTAN',
  ...Array.from({ length: rows }, (_, i) => `${i + 1},${year},TX,P${i},${500 + i},G1,${mw},0.5,"1,200"`)].join('\n') + '\n';

/** A minimal valid workbook (written by exceljs) with one eGRID sheet, and optionally a formula cell. */
async function workbook(sheetName: string, formula = false): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet(sheetName);
  ws.addRow(['Generator file sequence number', 'Data Year', 'Plant state abbreviation', 'DOE/EIA ORIS plant or facility code', 'Generator ID', 'Generator nameplate capacity (MW)', 'Generator annual net generation (MWh)']);
  ws.addRow(['SEQGEN22', 'YEAR', 'PSTATABB', 'ORISPL', 'GENID', 'NAMEPCAP', 'GENNTAN']);
  ws.addRow([1, 2022, 'TX', 900, 'G1', 5, '(1,234)']);
  ws.addRow([2, 2022, 'TX', 901, 'G1', formula ? { formula: 'A1*2', result: 7 } : 7, -5]);
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/** A zip with the files a workbook needs, plus whatever the attack adds. */
async function craftedZip(add: (zip: JSZip) => void): Promise<Buffer> {
  const zip = new JSZip();
  zip.file('[Content_Types].xml', '<Types/>');
  zip.file('xl/workbook.xml', '<workbook/>');
  add(zip);
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE', platform: 'UNIX' });
}

for (const target of testDatabases()) {
  describe(`eGRID uploads on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let dataDir: string;
    let analyst: { authorization: string };
    before(async () => {
      db = await target.open();
      await migrate(db);
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'egrid-upload-test-'));
      app = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache(), egrid: { dataDir, maxUploadBytes: MAX, zipLimits } });
      analyst = await authHeaders(app, db, 'analyst');
    });
    after(async () => { await app.close(); await db.close(); rmSync(dataDir, { recursive: true, force: true }); });

    const upload = (name: string, content: Buffer | string, headers: Record<string, string> = analyst, url = '/api/v1/egrid/uploads') => {
      const body = multipart(name, content);
      return app.inject({ method: 'POST', url, payload: body.payload, headers: { ...body.headers, ...headers } });
    };
    async function finished(id: number) {
      for (let i = 0; i < 400; i++) {
        const res = await app.inject({ url: `/api/v1/egrid/imports/${id}`, headers: analyst });
        const body = res.json<{ status: string }>();
        if (body.status !== 'queued' && body.status !== 'running') return body as { status: string; rowsLoaded: number; sheets: { dataYear: number }[] };
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('import did not finish');
    }
    const stored = async () => ({
      files: Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM egrid_files'))[0]!.n),
      imports: Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM egrid_imports'))[0]!.n),
      kept: (existsSync(path.join(dataDir, 'uploads')) ? readdirSync(path.join(dataDir, 'uploads'), { recursive: true }) : []).filter((f) => /\.(csv|xlsx|part)$/.test(String(f))).length,
    });

    it('admins and analysts upload; a viewer is refused and anonymous callers must sign in', async () => {
      assert.equal((await upload('gen.csv', GEN(2040, 2), {})).statusCode, 401);
      assert.equal((await upload('gen.csv', GEN(2040, 2), await authHeaders(app, db, 'viewer'))).statusCode, 403);
      assert.equal((await app.inject({ url: '/api/v1/egrid/imports' })).statusCode, 401);
    });

    it('a CSV upload is stored by its SHA-256, imported as a job with progress, and a second upload of the same bytes is recognised', async () => {
      const res = await upload('egrid2040_GEN40.csv', GEN(2040, 50));
      assert.equal(res.statusCode, 202, res.body);
      const body = res.json<{ importId: number; file: { sha256: string } }>();
      assert.equal(res.headers.location, `/api/v1/egrid/imports/${body.importId}`);
      const done = await finished(body.importId);
      assert.equal(done.status, 'succeeded');
      assert.equal(done.rowsLoaded, 50);
      const [g] = await db.query<{ net_generation_mwh: number }>('SELECT net_generation_mwh FROM egrid_generators WHERE data_year = 2040 AND orispl = 500');
      assert.equal(g?.net_generation_mwh, 1200);
      const files = readdirSync(path.join(dataDir, 'uploads', body.file.sha256.slice(0, 2)));
      assert.deepEqual(files, [`${body.file.sha256}.csv`]);
      const before = await stored();
      const again = await upload('renamed.csv', GEN(2040, 50));
      assert.equal(again.statusCode, 200);
      const dup = again.json<{ duplicate: boolean; import: { id: number } }>();
      assert.equal(dup.duplicate, true);
      assert.equal(dup.import.id, body.importId);
      assert.deepEqual(await stored(), before, 'a duplicate adds no file and no import');
    });

    it('refuses bad files with 413/415/422 problem+json naming the problem, and stores nothing', async () => {
      const before = await stored();
      const cases: [string, Buffer | string, number, RegExp][] = [
        ['image.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d]), 415, /neither CSV/],
        ['old.xls', Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]), 415, /neither CSV/],
        ['big.csv', GEN(2041, 9000), 413, /larger than/],
        ['columns.csv', 'name,value,unit\na,1,MW\n', 422, /no eGRID header/],
        ['nokey.csv', 'SEQGEN,YEAR,PSTATABB,GENID,NAMEPCAP\n1,2041,TX,G1,5\n', 422, /ORISPL/],
        ['wrong-sheet.xlsx', await workbook('GEN22').then(async () => {
          const wb = new ExcelJS.Workbook();
          wb.addWorksheet('Notes').addRow(['these are', 'not eGRID columns']);
          return Buffer.from(await wb.xlsx.writeBuffer());
        }), 422, /no eGRID sheet/],
        ['formula.xlsx', await workbook('GEN22', true), 422, /formula/],
        ['bomb.xlsx', await craftedZip((z) => z.file('xl/worksheets/sheet1.xml', Buffer.alloc(3 * 1024 * 1024))), 413, /zip bomb/],
        ['traversal.xlsx', await craftedZip((z) => z.file('../../etc/cron.d/x', 'boom')), 422, /unsafe path/],
        ['symlink.xlsx', await craftedZip((z) => z.file('xl/media/link', '/etc/passwd', { unixPermissions: 0o120777 })), 422, /symbolic link/],
        ['notxlsx.xlsx', await (async () => { const z = new JSZip(); z.file('a.txt', 'x'); return z.generateAsync({ type: 'nodebuffer' }); })(), 422, /not an XLSX/],
      ];
      for (const [name, content, status, detail] of cases) {
        const res = await upload(name, content);
        assert.equal(res.statusCode, status, `${name}: ${res.body}`);
        assert.match(String(res.headers['content-type']), /application\/problem\+json/, name);
        const problem = res.json<{ detail: string; field: string; status: number }>();
        assert.equal(problem.field, 'file', name);
        assert.match(problem.detail, detail, name);
      }
      assert.deepEqual(await stored(), before, 'nothing stored for a refused file');
      const heap = process.memoryUsage().rss;
      assert.ok(heap < 1024 ** 3, 'memory stays bounded');
    });

    it('a file with no data year anywhere (crosswalk, NERC names) is refused up front with 422 naming year, and imports with ?year=', async () => {
      const before = await stored();
      const xwalk = 'PSTATABB,PNAME,ORISPL,SUBRGN\nTX,P0,500,ERCT\nTX,P1,501,ERCT\n';
      for (const [name, content] of [['xwalk_oris_subregion.csv', xwalk], ['egrid_nerc_subregions.csv', 'SUBRGN,SRNAME\nERCT,ERCOT All\nMROW,MRO West\n']] as const) {
        const res = await upload(name, content);
        assert.equal(res.statusCode, 422, `${name}: ${res.body}`);
        assert.match(String(res.headers['content-type']), /application\/problem\+json/);
        const problem = res.json<{ field: string; detail: string }>();
        assert.equal(problem.field, 'year', name);
        assert.match(problem.detail, /no YEAR column/);
      }
      assert.deepEqual(await stored(), before, 'nothing stored for a file refused for its year');
      await upload('egrid2040_GEN40.csv', GEN(2040, 3, 7), analyst, '/api/v1/egrid/uploads?reimport=true');
      const res = await upload('xwalk_oris_subregion.csv', xwalk, analyst, '/api/v1/egrid/uploads?year=2040');
      assert.equal(res.statusCode, 202, res.body);
      const done = await finished(res.json<{ importId: number }>().importId);
      assert.notEqual(done.status, 'failed');
    });

    it('audits the upload with its object (import, sha256, year, sheets) and the replace of a data year by the job as the uploader', async () => {
      const res = await upload('egrid2042_GEN42.csv', GEN(2042, 4), analyst, '/api/v1/egrid/uploads?year=2042');
      assert.equal(res.statusCode, 202, res.body);
      const { importId, file } = res.json<{ importId: number; file: { sha256: string } }>();
      assert.equal((await finished(importId)).status, 'succeeded');
      type Row = { action: string; actor_kind: string; actor_id: string | null; object_type: string | null; object_id: string | null; request_id: string | null; detail: Record<string, unknown> };
      const rows = await db.query<Row>(`SELECT action, actor_kind, actor_id, object_type, object_id, request_id, detail FROM audit_log
        WHERE action LIKE 'egrid.%' AND (object_id = $1 OR object_id = '2042/generator') ORDER BY id`, [String(importId)]);
      const up = rows.find((r) => r.action === 'egrid.upload');
      assert.ok(up, 'the upload is audited as egrid.upload');
      assert.equal(up.object_type, 'egrid_import');
      assert.equal(up.actor_kind, 'user');
      assert.deepEqual({ ...up.detail, byteSize: 0 }, { importId, sha256: file.sha256, byteSize: 0, fileName: 'egrid2042_GEN42.csv', year: 2042, sheets: ['egrid2042_GEN42.csv'], reimport: false });
      const generic = await db.query<{ n: string | number }>(`SELECT count(*) AS n FROM audit_log WHERE request_id = $1 AND action = 'http.post'`, [up.request_id]);
      assert.equal(Number(generic[0]!.n), 0, 'no generic http.post record besides it');
      const replace = rows.find((r) => r.action === 'egrid.dataset.replace' && r.object_id === '2042/generator');
      assert.ok(replace, 'the job audits the replace of 2042 generators');
      assert.equal(replace.object_type, 'egrid_dataset');
      assert.deepEqual([replace.actor_kind, replace.actor_id], [up.actor_kind, up.actor_id], 'as the uploader');
      assert.equal(replace.detail.importId, importId);
      assert.equal(replace.detail.rowsLoaded, 4);
    });

    it('a valid workbook upload imports its eGRID sheet (descriptive row, then codes) from XLSX', async () => {
      const res = await upload('egrid2022.xlsx', await workbook('GEN22'));
      assert.equal(res.statusCode, 202, res.body);
      const done = await finished(res.json<{ importId: number }>().importId);
      assert.equal(done.status, 'succeeded');
      assert.equal(done.rowsLoaded, 2);
      assert.equal(done.sheets[0]?.dataYear, 2022);
      const rows = await db.query<{ orispl: number; net_generation_mwh: number }>('SELECT orispl, net_generation_mwh FROM egrid_generators WHERE data_year = 2022 ORDER BY orispl');
      assert.deepEqual(rows.map((r) => [r.orispl, r.net_generation_mwh]), [[900, -1234], [901, -5]]);
    });
  });
}
