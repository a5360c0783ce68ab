import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { FakeEia, regionRows } from '../../test/support/fake-eia-server.ts';
import { openTestApp } from '../../test/support/app.ts';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../platform/db.ts';
import { getBa } from '../grid/ba-repository.ts';
import { ensureSeries } from '../grid/series-repository.ts';
import { upsertObservations } from '../grid/observation-repository.ts';
import { EiaClient } from './eia-client.ts';
import { ingestRange } from './ingest-range.ts';
import { findGaps } from './gaps.ts';
import { loadSimulatedGrid } from './simulated-grid.ts';
import { pipelineFreshness } from './pipeline-freshness.ts';

/**
 * Issue 10 item 3: EIA retired WACM on 2026-03-31. Its reporting zone is Arizona time (UTC−7), so its
 * last reporting hour starts 2026-04-01T06:00Z (EIA period label 2026-04-01T07, hour-ending). A range
 * straddling the retirement asks for WACM only up to that hour; PSCO, still reporting, for all of it.
 */
const logger = pino({ level: 'silent' });
const LAST_WACM_HOUR = '2026-04-01T06:00:00.000Z';

for (const target of testDatabases()) {
  describe(`retired BAs in ingestion, gaps, the simulated grid and freshness (${target.name})`, () => {
    let db: Db;
    let app: FastifyInstance;
    const eia = new FakeEia();
    let client: EiaClient;
    before(async () => {
      ({ db, app } = await openTestApp(target));
      client = new EiaClient({ baseUrl: await eia.start(), apiKey: 'secret-key-123', logger, minIntervalMs: 0, timeoutMs: 500, retries: 1 });
      // EIA (here) even answers for WACM after its retirement: GridPulse must not ask
      eia.rows.region = ['WACM', 'PSCO'].flatMap((ba) => regionRows(ba, new Date('2026-03-30T01:00Z'), 96, (h) => String(1000 + h)));
    });
    after(async () => { await eia.stop(); await app.close(); await db.close(); });
    beforeEach(() => { eia.requests = []; });

    it('asks for a retired BA only up to the end of its retirement day (BA-local)', async () => {
      const run = await ingestRange({ db, client, logger }, { bas: ['PSCO', 'WACM'], from: new Date('2026-03-30T00:00Z'), to: new Date('2026-04-02T23:00Z'), routes: ['region'] });
      assert.deepEqual(run.errors, []);
      const asked = eia.requests.map((u) => [u.searchParams.getAll('facets[respondent][]').join('+'), u.searchParams.get('start'), u.searchParams.get('end')]);
      assert.deepEqual(asked, [
        ['PSCO+WACM', '2026-03-30T01', '2026-03-31T00'],
        ['PSCO+WACM', '2026-03-31T01', '2026-04-01T00'],
        ['PSCO', '2026-04-01T01', '2026-04-02T00'],
        ['WACM', '2026-04-01T01', '2026-04-01T07'],
        ['PSCO', '2026-04-02T01', '2026-04-03T00'],
      ]);
      const [newest] = await db.query<{ ba: string; ts: Date | string }>(
        `SELECT s.ba_code AS ba, max(o.ts) AS ts FROM observations o JOIN series s ON s.id = o.series_id WHERE s.ba_code = 'WACM' GROUP BY 1`);
      assert.equal(new Date(newest!.ts).toISOString(), LAST_WACM_HOUR);
    });

    it('asks nothing for a BA retired before the range; the run still succeeds', async () => {
      const run = await ingestRange({ db, client, logger }, { bas: ['OVEC'], from: new Date('2025-07-01T00:00Z'), to: new Date('2025-07-02T23:00Z'), routes: ['region', 'fuel', 'interchange'] });
      assert.deepEqual([eia.requests.length, run.fetched, run.errors.length], [0, 0, 0]);
      const [r] = await db.query<{ status: string }>('SELECT status FROM ingest_runs WHERE id = $1', [run.runId]);
      assert.equal(r!.status, 'succeeded');
    });

    it('finds no gap after a retirement, even around a stray row stored later', async () => {
      const id = await ensureSeries(db, { baCode: 'WACM', type: 'demand', subtype: '', source: 'eia' });
      await upsertObservations(db, [{ seriesId: id, ts: new Date('2026-04-05T00:00Z'), value: 1, quality: 'good' }]);
      await db.query(`DELETE FROM observations o USING series s WHERE s.id = o.series_id AND s.key = 'WACM.demand' AND o.ts BETWEEN '2026-04-01T04:00Z' AND '2026-04-01T05:00Z'`);
      const gaps = (await findGaps(db, { bas: ['WACM'] })).map((g) => [g.ba, g.route, g.from.toISOString(), g.to.toISOString(), g.hours]);
      // the two deleted hours are a gap; 2026-04-01T07:00Z .. 2026-04-04T23:00Z is past the retirement and is not
      assert.deepEqual(gaps, [['WACM', 'region', '2026-04-01T04:00:00.000Z', '2026-04-01T05:00:00.000Z', 2]]);
    });

    it('does not simulate a retired BA after its retirement, and its partners balance without it', async () => {
      // WAUW, retired the same day, reports in Mountain time (UTC−6 in spring): last hour 2026-04-01T05:00Z
      const bas = [(await getBa(db, 'NWMT'))!, (await getBa(db, 'WAUW'))!];
      const from = new Date('2026-03-31T18:00Z');
      await loadSimulatedGrid({ db, logger }, bas, from, 24);
      const rows = await db.query<{ key: string; ts: Date | string; value: number }>(
        `SELECT s.key, o.ts, o.value FROM observations o JOIN series s ON s.id = o.series_id
          WHERE s.source = 'simulated' AND s.key IN ('WAUW.demand', 'NWMT.interchange.WAUW', 'NWMT.interchange', 'NWMT.demand') ORDER BY 1, 2`);
      const hours = (key: string) => rows.filter((r) => r.key === key).map((r) => new Date(r.ts).toISOString());
      assert.deepEqual([hours('WAUW.demand').length, hours('WAUW.demand').at(-1)], [12, '2026-04-01T05:00:00.000Z']);
      assert.deepEqual([hours('NWMT.interchange.WAUW').length, hours('NWMT.interchange.WAUW').at(-1)], [12, '2026-04-01T05:00:00.000Z']);
      assert.equal(hours('NWMT.demand').length, 24, 'NWMT is simulated for every hour');
      // while WAUW reports, NWMT's only simulated partner, its total interchange is that one flow
      const ti = new Map(rows.filter((r) => r.key === 'NWMT.interchange').map((r) => [new Date(r.ts).toISOString(), r.value]));
      for (const r of rows.filter((x) => x.key === 'NWMT.interchange.WAUW')) assert.equal(ti.get(new Date(r.ts).toISOString()), r.value);
    });

    it('says retired, not stale, for a retired BA: API listing, per-BA freshness and the pipeline page', async () => {
      const listed = (await app.inject('/api/v1/bas?includeRetired=true')).json().data as Array<{ code: string; active: boolean; retiredOn: string | null; timeZone: string }>;
      const wacm = listed.find((b) => b.code === 'WACM')!;
      assert.deepEqual([wacm.active, wacm.retiredOn, wacm.timeZone], [false, '2026-03-31', 'America/Phoenix']);
      assert.ok(!((await app.inject('/api/v1/bas')).json().data as Array<{ code: string }>).some((b) => b.code === 'WACM'), 'not among active BAs');
      const fresh = await app.inject('/api/v1/bas/WACM/freshness');
      assert.equal(fresh.statusCode, 200);
      const statuses = (fresh.json().series as Array<{ status: string }>).map((s) => s.status);
      assert.ok(statuses.length > 0 && statuses.every((s) => s === 'retired'), statuses.join());
      const pipeline = (await pipelineFreshness(db)).filter((r) => r.ba === 'WACM');
      assert.ok(pipeline.length > 0 && pipeline.every((r) => r.status === 'retired'));
      assert.ok((await pipelineFreshness(db)).filter((r) => r.ba === 'PSCO').every((r) => r.status !== 'retired'));
    });
  });
}
