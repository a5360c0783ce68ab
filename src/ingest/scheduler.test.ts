import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import { loadConfig } from '../platform/config.ts';
import type { Db } from '../platform/db.ts';
import { dailyJob, hourlyJob, incrementalIngest, runOnce, startScheduler } from './scheduler.ts';
import { listFindings } from './check-runner.ts';

const logger = pino({ level: 'silent' });

for (const target of testDatabases()) {
  describe(`scheduler on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    it('fills four weeks of simulated grid, then extends only the new hours, with local-day rollups', async () => {
      const config = loadConfig({});
      const now = new Date('2025-11-02T12:30Z'); // a 25-hour day in US zones
      await incrementalIngest({ db, logger, config }, now);
      const [a] = await db.query<{ n: number; newest: Date; oldest: Date }>(`SELECT count(*)::integer AS n, max(ts) AS newest, min(ts) AS oldest FROM observations`);
      assert.equal(new Date(a!.newest).toISOString(), '2025-11-02T11:00:00.000Z');
      assert.equal(new Date(a!.oldest).toISOString(), '2025-10-05T11:00:00.000Z', 'four weeks: enough for the forecasts to train');
      await incrementalIngest({ db, logger, config }, new Date('2025-11-02T14:30Z'));
      const [b] = await db.query<{ n: number; newest: Date }>(`SELECT count(*)::integer AS n, max(ts) AS newest FROM observations`);
      assert.equal(new Date(b!.newest).toISOString(), '2025-11-02T13:00:00.000Z');
      // Only the two new hours were written: nothing at or before the first newest hour changed count.
      const [old] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM observations WHERE ts <= $1`, [a!.newest]);
      assert.equal(old!.n, a!.n);
      const [fresh] = await db.query<{ hours: number }>(`SELECT count(DISTINCT ts)::integer AS hours FROM observations WHERE ts > $1`, [a!.newest]);
      assert.equal(fresh!.hours, 2);
      assert.ok(b!.n > a!.n);
      const [r] = await db.query<{ hours: number; count: number }>(
        `SELECT d.hours, d.count FROM daily_rollups d JOIN series s ON s.id = d.series_id WHERE s.key = 'PJM.demand' AND d.day = '2025-11-01'`);
      assert.deepEqual({ ...r }, { hours: 24, count: 24 });
      const runs = await db.query<{ source: string }>('SELECT source FROM ingest_runs');
      assert.ok(runs.every((x) => x.source === 'simulated'));
    });

    it('the hourly job backfills a fresh hole; the daily job checks the last 48 h, prunes raw pages and is in the ledger', async () => {
      const config = loadConfig({ RAW_RETENTION_DAYS: '7' });
      await db.query(`DELETE FROM observations o USING series s WHERE s.id = o.series_id AND s.key = 'PJM.demand' AND o.ts BETWEEN '2025-11-02T05:00Z' AND '2025-11-02T06:00Z'`);
      await hourlyJob({ db, logger, config }, new Date('2025-11-02T14:40Z'));
      const [filled] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'PJM.demand' AND o.ts BETWEEN '2025-11-02T05:00Z' AND '2025-11-02T06:00Z'`);
      assert.equal(filled!.n, 2);
      // a spike of 10× at 10:00 that comes back at 11:00
      await db.query(`UPDATE observations o SET value = value * 10 FROM series s WHERE s.id = o.series_id AND s.key = 'MISO.demand' AND o.ts = '2025-11-02T10:00Z'`);
      const [old] = await db.query<{ id: number }>(`INSERT INTO ingest_runs (kind, source, status) VALUES ('cli', 'eia', 'succeeded') RETURNING id`);
      await db.query(`INSERT INTO raw_pages (run_id, route, request, page_offset, row_count, body, created_at) VALUES ($1, 'region', 'x', 0, 0, '\\x00', now() - interval '8 days')`, [old!.id]);
      const { runId } = await dailyJob({ db, logger, config }, new Date('2025-11-02T14:50Z'));
      const [run] = await db.query<{ kind: string; status: string }>('SELECT kind, status FROM ingest_runs WHERE id = $1', [runId]);
      assert.deepEqual({ ...run }, { kind: 'daily', status: 'succeeded' });
      const spikes = await listFindings(db, { run: runId, check: 'spike', ba: 'MISO' }, 10, 0);
      assert.deepEqual(spikes.map((f) => [f.series, f.from]), [['MISO.demand', '2025-11-02T10:00:00.000Z']]);
      const [raw] = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM raw_pages');
      assert.equal(raw!.n, 0);
      // partitions exist ahead of the data: November 2025 through January 2026
      const parts = await db.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'observations'::regclass AND c.relname >= 'observations_y2025m11' ORDER BY 1`);
      assert.deepEqual(parts.map((p) => p.name), ['observations_y2025m11', 'observations_y2025m12', 'observations_y2026m01']);
    });

    it('takes its cron expressions from the configuration', async () => {
      const config = loadConfig({ INGEST_CRON: '5 * * * *', DAILY_CRON: '30 2 * * *' });
      assert.throws(() => loadConfig({ DAILY_CRON: 'every day' }), /DAILY_CRON/);
      const s = startScheduler({ db, logger, config });
      await s.stop();
      assert.equal(config.INGEST_CRON, '5 * * * *');
    });

    it('runs a job once when two workers race for it', async () => {
      let runs = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => { release = r; });
      const first = runOnce(db, 42, async () => { runs++; await gate; });
      await new Promise((r) => setTimeout(r, 50));
      const other = target.name === 'pglite' ? undefined : await target.open();
      // PGlite is single-connection (one process); the lock is proven across connections on PostgreSQL.
      if (other) {
        assert.equal(await runOnce(other, 42, async () => { runs++; }), false);
        await other.close();
      }
      release();
      assert.equal(await first, true);
      assert.equal(runs, 1);
    });
  });
}
