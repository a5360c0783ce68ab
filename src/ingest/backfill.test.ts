import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { FakeEia, regionRows } from '../../test/support/fake-eia-server.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { getBa } from '../grid/ba-repository.ts';
import { EiaClient } from './eia-client.ts';
import { ingestRange } from './ingest-range.ts';
import { loadSimulatedGrid } from './simulated-grid.ts';
import { findGaps } from './gaps.ts';
import { claimBackfill, enqueueGaps, MAX_BACKFILL_ATTEMPTS, processBackfills } from './backfill.ts';
import { thisProcess } from '../platform/process-owner.ts';
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const logger = pino({ level: 'silent' });
const T0 = Date.parse('2025-09-01T00:00Z');
const at = (h: number) => new Date(T0 + h * 3_600_000);

for (const target of testDatabases()) {
  describe(`gaps and backfill on ${target.name}`, () => {
    let db: Db;
    const eia = new FakeEia();
    let client: EiaClient;
    const snapshot = () => db.query<{ key: string; ts: Date; value: number; revisions: number }>(
      `SELECT s.key, o.ts, o.value, o.revisions FROM observations o JOIN series s ON s.id = o.series_id ORDER BY 1, 2`);
    before(async () => {
      db = await target.open();
      await migrate(db);
      client = new EiaClient({ baseUrl: await eia.start(), apiKey: 'secret-key-123', logger, minIntervalMs: 0, timeoutMs: 500, retries: 1 });
    });
    after(async () => { await eia.stop(); await db.close(); });

    it('finds missing hours per BA and route with generate_series, and fills simulated gaps without touching stored hours', async () => {
      const ciso = (await getBa(db, 'CISO'))!;
      await loadSimulatedGrid({ db, logger }, [ciso], at(0), 72);
      const full = await snapshot();
      await db.query(`DELETE FROM observations o USING series s WHERE s.id = o.series_id AND s.key = 'CISO.demand' AND o.ts BETWEEN $1 AND $2`, [at(10), at(12)]);
      await db.query(`DELETE FROM observations o USING series s WHERE s.id = o.series_id AND s.key IN ('CISO.fuel.WND', 'CISO.fuel.SUN') AND o.ts = $1`, [at(20)]);
      // a stored null is not a gap
      await db.query(`UPDATE observations o SET value = NULL, quality = 2 FROM series s WHERE s.id = o.series_id AND s.key = 'CISO.forecast' AND o.ts = $1`, [at(30)]);
      const gaps = await findGaps(db);
      assert.deepEqual(gaps.map((g) => [g.ba, g.route, g.source, g.from.toISOString(), g.to.toISOString(), g.hours]), [
        ['CISO', 'fuel', 'simulated', at(20).toISOString(), at(20).toISOString(), 1],
        ['CISO', 'region', 'simulated', at(10).toISOString(), at(12).toISOString(), 3],
      ]);
      assert.deepEqual(await findGaps(db, { since: at(13) }), [gaps[0]]);
      assert.equal(await enqueueGaps(db, gaps, { eia: false }), 2);
      assert.equal(await enqueueGaps(db, gaps, { eia: false }), 0, 'a queued gap is not queued twice');
      assert.deepEqual(await processBackfills({ db, logger }), { done: 2, failed: 0 });
      assert.deepEqual(await findGaps(db), []);
      const after = await snapshot();
      assert.equal(after.length, full.length);
      const key = (r: { key: string; ts: Date }) => `${r.key}|${new Date(r.ts).toISOString()}`;
      const refilled = new Set([...[10, 11, 12].map((h) => `CISO.demand|${at(h).toISOString()}`), `CISO.fuel.WND|${at(20).toISOString()}`, `CISO.fuel.SUN|${at(20).toISOString()}`, `CISO.forecast|${at(30).toISOString()}`]);
      assert.deepEqual(after.filter((r) => !refilled.has(key(r))), full.filter((r) => !refilled.has(key(r))), 'stored hours unchanged');
      // the simulation depends on the absolute hour only: the refilled hours are exactly what the first run stored
      const gapKeys = new Set([...refilled].filter((k) => !k.startsWith('CISO.forecast|')));
      assert.deepEqual(after.filter((r) => gapKeys.has(key(r))), full.filter((r) => gapKeys.has(key(r))), 'refilled hours equal the original ones');
      const runs = await db.query<{ kind: string; source: string; rows_inserted: number }>(`SELECT kind, source, rows_inserted FROM ingest_runs WHERE kind = 'backfill' ORDER BY id`);
      assert.deepEqual(runs.map((r) => r.rows_inserted).sort(), [2, 3]);
    });

    it('backfills an EIA gap from EIA, and stops re-queuing a gap the source never fills', async () => {
      await db.query(`DELETE FROM observations`);
      eia.rows.region = regionRows('PJM', new Date(T0 + 3_600_000), 48, (h) => String(90000 + h));
      await ingestRange({ db, client, logger }, { bas: ['PJM'], from: at(0), to: at(47), routes: ['region'] });
      await db.query(`DELETE FROM observations o USING series s WHERE s.id = o.series_id AND s.key = 'PJM.forecast' AND o.ts BETWEEN $1 AND $2`, [at(5), at(7)]);
      const gaps = await findGaps(db, { bas: ['PJM'] });
      assert.deepEqual(gaps.map((g) => [g.route, g.source, g.hours]), [['region', 'eia', 3]]);
      assert.equal(await enqueueGaps(db, gaps, { eia: false }), 0, 'no EIA key: nothing to backfill from');
      assert.equal(await enqueueGaps(db, gaps, { eia: true }), 1);
      assert.deepEqual(await processBackfills({ db, logger, client }), { done: 1, failed: 0 });
      assert.deepEqual(await findGaps(db, { bas: ['PJM'] }), []);
      const [n] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM observations`);
      assert.equal(n!.n, 48 * 4);
      // EIA itself lacks hour 9 of PJM.demand: the job runs, the gap stays, and it is retried a bounded number of times
      eia.rows.region = eia.rows.region.filter((r) => !(r.type === 'D' && r.period === new Date(T0 + 10 * 3_600_000).toISOString().slice(0, 13)));
      await db.query(`DELETE FROM observations o USING series s WHERE s.id = o.series_id AND s.key = 'PJM.demand' AND o.ts = $1`, [at(9)]);
      let attempts = 0;
      eia.requests = [];
      while (await enqueueGaps(db, await findGaps(db, { bas: ['PJM'] }), { eia: true })) {
        attempts++;
        await processBackfills({ db, logger, client });
        assert.ok(attempts <= MAX_BACKFILL_ATTEMPTS);
      }
      assert.equal(attempts, MAX_BACKFILL_ATTEMPTS);
      assert.equal(eia.requests.length, MAX_BACKFILL_ATTEMPTS, 'every retry asks EIA again (a finished run is not resumed)');
      const [job] = await db.query<{ status: string; attempts: number }>(`SELECT status, attempts FROM backfill_jobs WHERE ts_from = $1`, [at(9)]);
      assert.deepEqual({ ...job }, { status: 'done', attempts: MAX_BACKFILL_ATTEMPTS });
    });
  });
}

for (const target of testDatabases()) {
  describe(`backfill jobs of a dead process on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    it('are queued again at once when their owner is gone, and stay with a live or unverifiable owner', async () => {
      const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
      await once(child, 'exit');
      const me = thisProcess();
      const gap = (ba: string, h: number) => ({ ba, route: 'region' as const, source: 'simulated' as const, from: at(h), to: at(h + 1), hours: 2 });
      await enqueueGaps(db, [gap('CISO', 0), gap('PJM', 0), gap('ERCO', 0)], { eia: false });
      const owners: Record<string, unknown> = { CISO: { ...me, pid: child.pid! }, PJM: { ...me, pid: child.pid!, host: `${me.host}-elsewhere` }, ERCO: me };
      for (const [ba, owner] of Object.entries(owners)) {
        await db.query(`UPDATE backfill_jobs SET status = 'running', owner = $2::text::jsonb WHERE ba_code = $1`, [ba, JSON.stringify(owner)]);
      }
      const job = await claimBackfill(db);
      assert.equal(job?.ba, 'CISO', 'the dead process\'s job, claimed again');
      assert.equal(await claimBackfill(db), undefined, 'the others are still someone\'s');
      const [row] = await db.query<{ owner: { pid: number } }>(`SELECT owner FROM backfill_jobs WHERE ba_code = 'CISO'`);
      assert.equal(row!.owner.pid, process.pid);
    });
  });
}
