import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { PointStore } from './store-points.ts';
import { startRun } from './run-ledger.ts';
import { listFindings, runQualityChecks } from './check-runner.ts';
import type { EiaPoint } from './eia-schema.ts';

const logger = pino({ level: 'silent' });
const T0 = Date.parse('2025-07-01T00:00Z');
const at = (h: number) => new Date(T0 + h * 3_600_000);

/** 48 hours of CISO demand (100..103 repeating) with a spike of 500 at hour 30, and a BANC/CISO interchange pair that agrees except at hour 40 (same sign). */
function fixture(): EiaPoint[] {
  const out: EiaPoint[] = [];
  for (let h = 0; h < 48; h++) {
    out.push({ route: 'region', ba: 'CISO', code: 'D', ts: at(h), value: h === 30 ? 500 : 100 + (h % 4) });
    out.push({ route: 'interchange', ba: 'CISO', code: 'BANC', ts: at(h), value: 50 + (h % 3) });
    out.push({ route: 'interchange', ba: 'BANC', code: 'CISO', ts: at(h), value: h === 40 ? 50 : -(50 + (h % 3)) });
  }
  return out;
}

for (const target of testDatabases()) {
  describe(`quality check runs on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    it('stores findings per run, marks point defects anomalous, never changes a value, and the flag survives a re-delivery', async () => {
      const store = new PointStore(db, logger);
      await store.store(fixture());
      const values = () => db.query<{ key: string; ts: Date; value: number }>(`SELECT s.key, o.ts, o.value FROM observations o JOIN series s ON s.id = o.series_id ORDER BY 1, 2`);
      const before = await values();
      const runId = await startRun(db, 'checks', 'checks', {});
      const summary = await runQualityChecks({ db, logger }, { bas: ['CISO', 'BANC'], from: at(24), to: at(47), runId });
      assert.equal(summary.flaggedPoints, 1);
      assert.deepEqual(await values(), before);
      const found = await listFindings(db, { run: runId }, 100, 0);
      assert.deepEqual(found.map((f) => [f.check, f.series, f.from, f.to, f.count]).sort(), [
        ['interchange_mismatch', 'BANC.interchange.CISO', at(40).toISOString(), at(40).toISOString(), 1],
        ['interchange_mismatch', 'CISO.interchange.BANC', at(40).toISOString(), at(40).toISOString(), 1],
        ['spike', 'CISO.demand', at(30).toISOString(), at(30).toISOString(), 1],
      ]);
      const spike = found.find((f) => f.check === 'spike')!;
      assert.deepEqual((spike.detail as { hours: unknown[] }).hours[0], { hour: at(30).toISOString(), value: 500, median: 101.5, mad: 1 });
      const quality = await db.query<{ ts: Date; quality: number }>(`SELECT o.ts, o.quality FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'CISO.demand' AND o.quality <> 0`);
      assert.deepEqual(quality.map((q) => [new Date(q.ts).toISOString(), q.quality]), [[at(30).toISOString(), 3]]);
      // the same delivery again changes nothing (the check flag is kept), a revision of the value clears it
      assert.deepEqual(await store.store(fixture()), { inserted: 0, updated: 0, rejected: 0, duplicates: 0, conflicting: 0, reasons: {} });
      const revised = fixture().map((p) => (p.code === 'D' && p.ts.getTime() === at(30).getTime() ? { ...p, value: 102 } : p));
      assert.deepEqual(await store.store(revised), { inserted: 0, updated: 1, rejected: 0, duplicates: 0, conflicting: 0, reasons: {} });
      const [q] = await db.query<{ quality: number }>(`SELECT o.quality FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'CISO.demand' AND o.ts = $1`, [at(30)]);
      assert.equal(q!.quality, 0);
    });

    it('filters findings by BA, check and overlapping time range', async () => {
      assert.deepEqual((await listFindings(db, { ba: 'BANC' }, 10, 0)).map((f) => f.series), ['BANC.interchange.CISO']);
      assert.deepEqual((await listFindings(db, { check: 'spike', from: at(31), to: at(47) }, 10, 0)), []);
      assert.equal((await listFindings(db, { check: 'spike', from: at(30), to: at(31) }, 10, 0)).length, 1);
    });
  });
}
