import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { startRun } from './run-ledger.ts';
import { openWorkerRun } from './data-runs.ts';

const logger = pino({ level: 'silent' });
const WORKER_RUN = '7b0c9a52-3c1e-4d8e-9f51-2a6d0c1e9b11';
const key = { id: 'gp_worker', name: 'worker' };

for (const target of testDatabases()) {
  describe(`worker runs opened twice (${target.name})`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    it('answers the first run opened (lowest id) when two concurrent opens of one id both stored a run, whatever the rows\' order', async () => {
      // what two concurrent opens leave: openWorkerRun looks, then inserts, so both can insert
      const params = { bas: ['CISO'], from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T05:00:00.000Z', routes: ['region'], apiKey: key.id, workerRun: WORKER_RUN };
      const first = await startRun(db, 'hourly (worker worker)', 'eia', params, null);
      const second = await startRun(db, 'hourly (worker worker)', 'eia', params, null);
      // the first rewritten (an update writes a new row version after the other): a scan meets the second first
      await db.query('UPDATE ingest_runs SET heartbeat_at = now() WHERE id = $1', [first]);
      const body = { id: WORKER_RUN, kind: 'hourly' as const, params: { bas: ['CISO'], from: new Date(params.from), to: new Date(params.to), routes: ['region' as const] } };
      for (let i = 0; i < 6; i++) { // prepared on PostgreSQL after 5 executions: the generic plan too
        const r = await openWorkerRun(db, body, key, logger);
        assert.deepEqual([r.runId, r.created], [first, false], `open ${i + 1} of the run stored as ${first} and ${second}`);
      }
    });
  });
}
