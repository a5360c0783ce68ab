import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { runParams, type IngestRequest } from '../ingest/ingest-range.ts';
import { startRun } from '../ingest/run-ledger.ts';
import { namedBas, runToResume, summary } from './ingest-command.ts';

const req: IngestRequest = { bas: ['CISO'], from: new Date('2025-07-01T00:00Z'), to: new Date('2025-07-02T23:00Z'), routes: ['region'] };

describe('ingest summary table', () => {
  it('shows conflicting rows within rejected, duplicates apart, and the rejections by reason, most first', () => {
    const text = summary({ runId: 7, fetched: 30, inserted: 20, updated: 1, rejected: 6, requests: 2, retries: 1, errors: [], duplicates: 3, conflicting: 4,
      reasons: { 'local-hourly periods are not supported': 2, 'conflicting values for one series and hour in one batch': 4 } });
    assert.equal(text, [
      'run            7', 'rows fetched   30', 'inserted       20', 'updated        1', 'rejected       6', '  conflicting  4', 'duplicates     3',
      'requests       2', 'retries        1', 'errors         0', 'rejected by reason:',
      '         4  conflicting values for one series and hour in one batch', '         2  local-hourly periods are not supported', '',
    ].join('\n'));
  });
});

for (const target of testDatabases()) {
  describe(`ingest --resume on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    it('resumes a named run only when it was the same command, and says why not', async () => {
      const id = await startRun(db, 'cli', 'eia', runParams(req));
      assert.equal(await runToResume(db, req, String(id)), id);
      // its finished CISO day-routes would otherwise be skipped for PJM too
      await assert.rejects(runToResume(db, { ...req, bas: ['CISO', 'PJM'] }, String(id)), /run \d+ was not an ingest of the same BAs, days and routes/);
      await assert.rejects(runToResume(db, { ...req, routes: ['region', 'fuel'] }, String(id)), /not an ingest of the same/);
      const hourly = await startRun(db, 'hourly', 'eia', runParams(req));
      await assert.rejects(runToResume(db, req, String(hourly)), /not an ingest of the same/);
      await assert.rejects(runToResume(db, req, String(hourly + 1000)), /--resume: no run \d+/);
      for (const bad of ['x', '-1', '1.5', '99999999999']) await assert.rejects(runToResume(db, req, bad), /--resume: expected a run id/);
    });
  });
}

for (const target of testDatabases()) {
  describe(`--ba against the registry on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    it('stops on an unknown code naming it, and keeps known ones (retired ones too: ingestion asks only inside their dates)', async () => {
      await assert.rejects(namedBas(db, 'CISO,XXXX', new Date('2026-04-05T00:00Z'), new Date('2026-04-05T00:00Z')), /--ba: unknown balancing authority XXXX/);
      await assert.rejects(namedBas(db, ' , ', new Date('2026-04-05T00:00Z'), new Date('2026-04-05T00:00Z')), /--ba: no BA code given/);
      assert.deepEqual(await namedBas(db, 'ciso, WACM,ciso', new Date('2026-04-05T00:00Z'), new Date('2026-04-05T00:00Z')), ['CISO', 'WACM']);
    });
  });
}
