import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { runParams, type IngestRequest } from '../ingest/ingest-range.ts';
import { startRun } from '../ingest/run-ledger.ts';
import { runToResume } from './ingest-command.ts';

const req: IngestRequest = { bas: ['CISO'], from: new Date('2025-07-01T00:00Z'), to: new Date('2025-07-02T23:00Z'), routes: ['region'] };

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
