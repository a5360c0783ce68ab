import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { FakeEia, regionRows } from '../../test/support/fake-eia-server.ts';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { EiaClient } from './eia-client.ts';
import { ingestRange } from './ingest-range.ts';
import { periodToStart } from './eia-schema.ts';
import { loadRawPages, pruneRawPages } from './raw-pages.ts';
import { markAbandonedRuns } from './run-ledger.ts';
import { PointStore } from './store-points.ts';
import { listFindings } from './check-runner.ts';
import { incrementalIngest } from './scheduler.ts';
import { loadConfig } from '../platform/config.ts';

const logger = pino({ level: 'silent' });
const KEY = 'secret-key-123';

for (const target of testDatabases({ pgliteWorker: true })) {
  describe(`EIA ingestion on ${target.name}`, () => {
    let db: Db;
    const eia = new FakeEia();
    let baseUrl: string;
    const client = (retries = 3) => new EiaClient({ baseUrl, apiKey: KEY, logger, minIntervalMs: 0, timeoutMs: 500, retries, pageSize: 50, readRetryDelayMs: 0 });
    const count = async () => Number((await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM observations'))[0]!.n);

    before(async () => {
      db = await target.open();
      await migrate(db);
      baseUrl = await eia.start();
    });
    after(async () => { await eia.stop(); await db.close(); });
    beforeEach(() => { eia.faults = []; eia.always = 'ok'; eia.requests = []; });

    it('loads every row once across pages, maps nulls to missing, and re-runs change nothing', async () => {
      eia.rows.region = [
        ...regionRows('CISO', new Date('2025-07-01T01:00Z'), 48, (h, t) => (h === 3 && t === 'D' ? null : String(20000 + h))),
        ...regionRows('PJM', new Date('2025-07-01T01:00Z'), 48, (h) => String(90000 + h)),
      ];
      const req = { bas: ['CISO', 'PJM'], from: new Date('2025-07-01T00:00Z'), to: new Date('2025-07-02T23:00Z'), routes: ['region' as const] };
      const first = await ingestRange({ db, client: client(), logger }, req);
      assert.deepEqual([first.fetched, first.inserted, first.updated, first.errors.length], [384, 384, 0, 0]);
      assert.equal(await count(), 384);
      assert.ok(eia.requests.length >= 8, 'paged at 50 rows');
      assert.ok(eia.apiKeysSeen.every((k) => k === KEY));
      const [missing] = await db.query<{ quality: number; value: number | null }>(
        `SELECT quality, value FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'CISO.demand' AND ts = '2025-07-01T03:00Z'`);
      assert.deepEqual({ ...missing }, { quality: 2, value: null });
      const again = await ingestRange({ db, client: client(), logger }, req);
      assert.deepEqual([again.inserted, again.updated], [0, 0]);
      assert.equal(await count(), 384);
      // an EIA revision updates one value and is counted
      eia.rows.region.find((r) => r.respondent === 'PJM' && r.type === 'D' && r.period === '2025-07-01T05')!.value = '1';
      const revised = await ingestRange({ db, client: client(), logger }, req);
      assert.deepEqual([revised.inserted, revised.updated], [0, 1]);
      const runs = await db.query<{ status: string }>('SELECT status FROM ingest_runs ORDER BY id');
      assert.deepEqual(runs.map((r) => r.status), ['succeeded', 'succeeded', 'succeeded']);
    });

    it('keeps each run\'s raw pages (gzip\'d, no API key) and prunes them after the retention', async () => {
      const [run] = await db.query<{ id: number }>('SELECT min(id) AS id FROM ingest_runs');
      const pages = await loadRawPages(db, run!.id);
      const rows = pages.flatMap((p) => p.rows) as Array<Record<string, unknown>>;
      assert.equal(rows.length, 384);
      assert.deepEqual(new Set(rows.map((r) => `${r.respondent}|${r.type}|${r.period}`)).size, 384);
      assert.deepEqual(pages.map((p) => p.offset).slice(0, 3), [0, 50, 100]);
      assert.ok(pages.every((p) => p.route === 'region' && !p.request.includes(KEY)));
      const [size] = await db.query<{ raw: number; json: number }>(`SELECT sum(octet_length(body))::integer AS raw FROM raw_pages WHERE run_id = $1`, [run!.id]);
      assert.ok(size!.raw < JSON.stringify(rows).length / 3, `gzip'd ${size!.raw} bytes`);
      const total = Number((await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM raw_pages'))[0]!.n);
      await db.query(`UPDATE raw_pages SET created_at = now() - interval '31 days' WHERE run_id = $1`, [run!.id]);
      assert.equal(await pruneRawPages(db, 30), pages.length);
      assert.equal(await pruneRawPages(db, 30), 0);
      assert.equal(Number((await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM raw_pages'))[0]!.n), total - pages.length);
    });

    it('keeps a page that fails to parse in the raw audit, and fails its chunk', async () => {
      const kept = eia.rows.region;
      eia.rows.region = regionRows('CISO', new Date('2025-08-01T01:00Z'), 24, (h, t) => (h === 5 && t === 'D' ? 'n/a' : String(20000 + h)));
      try {
        const res = await ingestRange({ db, client: client(), logger }, { bas: ['CISO'], from: new Date('2025-08-01T00:00Z'), to: new Date('2025-08-01T23:00Z'), routes: ['region'] });
        assert.match(res.errors.join(), /not a decimal number: n\/a/);
        const pages = await loadRawPages(db, res.runId);
        assert.deepEqual(pages.map((p) => [p.offset, p.rows.length]), [[0, 50]]);
        assert.ok((pages[0]!.rows as Array<{ value: unknown }>).some((r) => r.value === 'n/a'), 'the page as received');
      } finally {
        eia.rows.region = kept;
      }
    });

    it('retries 429, 500, timeouts and truncated JSON, and still lands every row once', async () => {
      await db.query('DELETE FROM observations');
      eia.faults = ['429', '500', 'timeout', 'truncated'];
      const res = await ingestRange({ db, client: client(4), logger }, { bas: ['CISO'], from: new Date('2025-07-01T00:00Z'), to: new Date('2025-07-01T23:00Z'), routes: ['region'] });
      assert.equal(res.errors.length, 0);
      assert.equal(res.retries, 4);
      assert.equal(await count(), 96);
    });

    it('gives up after the retry budget and records a failed run without a partial write', async () => {
      await db.query('DELETE FROM observations');
      eia.faults = ['500', '500', '500'];
      const res = await ingestRange({ db, client: client(2), logger }, { bas: ['CISO'], from: new Date('2025-07-01T00:00Z'), to: new Date('2025-07-01T23:00Z'), routes: ['region'] });
      assert.match(res.errors[0] ?? '', /HTTP 500/);
      assert.equal(await count(), 0);
      const [run] = await db.query<{ status: string }>('SELECT status FROM ingest_runs WHERE id = $1', [res.runId]);
      assert.equal(run!.status, 'failed');
    });

    const day = { bas: ['CISO'], from: new Date('2025-07-01T00:00Z'), to: new Date('2025-07-01T23:00Z'), routes: ['region' as const] };
    const chunksOf = async (runId: number) => Number((await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM ingest_chunks WHERE run_id = $1', [runId]))[0]!.n);

    it('a total that changes between pages once is re-read: the run succeeds with every row', async () => {
      await db.query('DELETE FROM observations');
      eia.faults = ['ok', 'drift'];
      const res = await ingestRange({ db, client: client(), logger }, day);
      assert.deepEqual([res.errors, res.inserted, res.retries], [[], 96, 1]);
      assert.equal(await chunksOf(res.runId), 1);
    });

    for (const [fault, stored, problem] of [['drift', 96, /total changed between pages \(96 → 97\)/], ['overlap', 95, /pages overlap: 5 rows repeat keys of earlier pages \(95 distinct rows of total 96\)/], ['short', 95, /95 rows received of total 96/]] as const) {
      it(`pages that keep disagreeing (${fault}): re-read, then the day-route fails loudly, is never checkpointed, and a resume completes it`, async () => {
        await db.query('DELETE FROM observations');
        eia.always = fault;
        const res = await ingestRange({ db, client: client(), logger }, day);
        assert.equal(res.errors.length, 1);
        assert.match(res.errors[0]!, /^region 2025-07-01T00:00:00\.000Z: region 2025-07-01T01\.\.2025-07-02T00: incomplete read after 3 attempts: /);
        assert.match(res.errors[0]!, problem);
        assert.equal(eia.requests.filter((u) => u.searchParams.get('offset') === '0').length, 3, 'read three times');
        assert.equal(await chunksOf(res.runId), 0, 'not checkpointed');
        // the rows that did arrive are kept (as one batch: overlapping rows are exact repeats, stored once)
        assert.deepEqual([res.inserted, await count(), res.duplicates], [stored, stored, fault === 'overlap' ? 5 : 0]);
        const [run] = await db.query<{ status: string; errors: unknown }>('SELECT status, errors FROM ingest_runs WHERE id = $1', [res.runId]);
        assert.equal(run!.status, 'partial', 'not succeeded');
        eia.always = 'ok';
        const resumed = await ingestRange({ db, client: client(), logger }, { ...day, resume: res.runId });
        assert.deepEqual([resumed.inserted, resumed.errors.length], [96 - stored, 0]);
        assert.equal(await chunksOf(resumed.runId), 1);
        assert.equal(await count(), 96);
      });
    }

    it('an EIA page giving one series and hour two values: both refused, counted, logged in the ledger and a finding; exact repeats stored once', async () => {
      await db.query('DELETE FROM observations');
      const kept = eia.rows.region;
      const rows = regionRows('CISO', new Date('2025-07-01T01:00Z'), 24, (h) => String(20000 + h));
      const d2 = rows.find((r) => r.period === '2025-07-01T03' && r.type === 'D')!;
      const ng5 = rows.find((r) => r.period === '2025-07-01T06' && r.type === 'NG')!;
      eia.rows.region = [...rows, { ...d2, value: '25000' }, { ...ng5 }];
      try {
        const res = await ingestRange({ db, client: client(), logger }, day);
        assert.deepEqual(res.errors, []);
        assert.deepEqual([res.fetched, res.inserted, res.rejected, res.conflicting, res.duplicates], [98, 95, 2, 2, 1]);
        const [d] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'CISO.demand' AND o.ts = '2025-07-01T02:00Z'`);
        assert.equal(d!.n, 0, 'the conflicting hour is refused');
        const [run] = await db.query<{ status: string; rows_rejected: number; rows_conflicting: number; rows_duplicate: number }>(
          'SELECT status, rows_rejected, rows_conflicting, rows_duplicate FROM ingest_runs WHERE id = $1', [res.runId]);
        assert.deepEqual({ ...run }, { status: 'succeeded', rows_rejected: 2, rows_conflicting: 2, rows_duplicate: 1 });
        const findings = await listFindings(db, { run: res.runId, check: 'conflicting_duplicate' }, 10, 0);
        assert.deepEqual(findings.map((f) => [f.series, f.from, f.count, f.detail]), [
          ['CISO.demand', '2025-07-01T02:00:00.000Z', 1, { choice: 'refused', hours: [{ hour: '2025-07-01T02:00:00.000Z', values: [20002, 25000], qualities: ['good', 'good'] }] }],
        ]);
      } finally {
        eia.rows.region = kept;
      }
    });

    it('a run killed after some day-routes is in the ledger as partial, and resuming it lands every row exactly once', async () => {
      await db.query('DELETE FROM observations');
      eia.rows.region = regionRows('ERCO', new Date('2025-07-10T01:00Z'), 72, (h) => String(40000 + h));
      eia.rows.fuel = Array.from({ length: 72 }, (_, h) => ({ period: new Date(Date.parse('2025-07-10T01:00Z') + h * 3_600_000).toISOString().slice(0, 13), respondent: 'ERCO', fueltype: 'WND', value: String(9000 + h) }));
      const req = { bas: ['ERCO'], from: new Date('2025-07-10T00:00Z'), to: new Date('2025-07-12T23:00Z'), routes: ['region' as const, 'fuel' as const] };
      const kill = new AbortController();
      const first = await ingestRange({ db, client: client(), logger, signal: kill.signal, onProgress: (done) => { if (done === 3) kill.abort(); } }, req);
      assert.match(first.errors.join(), /aborted after 3\/6/);
      assert.equal(first.inserted, 96 + 24 + 96);
      const [run] = await db.query<{ status: string; rows_inserted: number }>('SELECT status, rows_inserted FROM ingest_runs WHERE id = $1', [first.runId]);
      assert.deepEqual({ ...run }, { status: 'partial', rows_inserted: 216 });
      eia.requests = [];
      const resumed = await ingestRange({ db, client: client(), logger }, { ...req, resume: first.runId });
      assert.deepEqual([resumed.inserted, resumed.updated, resumed.errors.length], [96 + 24 + 24, 0, 0]);
      assert.ok(eia.requests.every((u) => u.searchParams.get('start')! >= '2025-07-11T01'), 'finished day-routes are not fetched again');
      const [rows] = await db.query<{ n: number; revised: number }>('SELECT count(*)::integer AS n, count(*) FILTER (WHERE revisions > 0)::integer AS revised FROM observations');
      assert.deepEqual({ ...rows }, { n: 72 * 5, revised: 0 });
      const [second] = await db.query<{ status: string; resumed_from: number }>('SELECT status, resumed_from FROM ingest_runs WHERE id = $1', [resumed.runId]);
      assert.deepEqual({ ...second }, { status: 'succeeded', resumed_from: first.runId });
    });

    it('an abort cuts the request in flight at once, and the resumed run still lands every row exactly once', async () => {
      await db.query('DELETE FROM observations');
      eia.faults = ['ok', 'ok', 'timeout'];
      const slow = new EiaClient({ baseUrl, apiKey: KEY, logger, minIntervalMs: 0, timeoutMs: 20_000, retries: 3, pageSize: 50 });
      const req = { bas: ['ERCO'], from: new Date('2025-07-10T00:00Z'), to: new Date('2025-07-11T23:00Z'), routes: ['region' as const, 'fuel' as const] };
      const kill = new AbortController();
      const started = Date.now();
      setTimeout(() => kill.abort(), 400);
      const first = await ingestRange({ db, client: slow, logger, signal: kill.signal }, req);
      assert.ok(Date.now() - started < 5_000, 'did not wait for the hanging request');
      assert.match(first.errors.join(), /abort/i);
      const [run] = await db.query<{ status: string }>('SELECT status FROM ingest_runs WHERE id = $1', [first.runId]);
      assert.ok(['partial', 'failed'].includes(run!.status), run!.status);
      const resumed = await ingestRange({ db, client: client(), logger }, { ...req, resume: first.runId });
      assert.equal(resumed.errors.length, 0);
      assert.equal(first.inserted + resumed.inserted, 48 * 5);
      const [rows] = await db.query<{ n: number; revised: number }>('SELECT count(*)::integer AS n, count(*) FILTER (WHERE revisions > 0)::integer AS revised FROM observations');
      assert.deepEqual({ ...rows }, { n: 48 * 5, revised: 0 });
    });

    it('closes runs whose process died (no heartbeat) as partial or failed', async () => {
      const [dead] = await db.query<{ id: number }>(`INSERT INTO ingest_runs (kind, source, started_at, heartbeat_at, rows_inserted) VALUES ('cli', 'eia', now() - interval '2 hours', now() - interval '1 hour', 10) RETURNING id`);
      const [live] = await db.query<{ id: number }>(`INSERT INTO ingest_runs (kind, source, heartbeat_at) VALUES ('cli', 'eia', now()) RETURNING id`);
      assert.equal(await markAbandonedRuns(db, 15), 1);
      const rows = await db.query<{ id: number; status: string; errors: string[] }>('SELECT id, status, errors FROM ingest_runs WHERE id IN ($1, $2) ORDER BY id', [dead!.id, live!.id]);
      assert.equal(rows[0]!.status, 'partial');
      assert.match(JSON.stringify(rows[0]!.errors), /interrupted/);
      assert.equal(rows[1]!.status, 'running');
      await db.query(`UPDATE ingest_runs SET status = 'failed' WHERE id = $1`, [live!.id]);
    });

    it('the hourly pass re-reads 48 h behind the newest observed hour, not behind the day-ahead forecast', async () => {
      await db.query('DELETE FROM observations');
      const store = new PointStore(db, logger);
      const hourAt = (h: number) => new Date(Date.parse('2025-09-01T00:00Z') + h * 3_600_000);
      // demand through 09-01 23:00; the day-ahead forecast already reaches 09-02 23:00
      await store.store(Array.from({ length: 24 }, (_, h) => ({ route: 'region' as const, ba: 'CISO', code: 'D', ts: hourAt(h), value: 20000 + h })));
      await store.store(Array.from({ length: 48 }, (_, h) => ({ route: 'region' as const, ba: 'CISO', code: 'DF', ts: hourAt(h), value: 20000 + h })));
      eia.requests = [];
      await incrementalIngest({ db, logger, config: loadConfig({ EIA_API_KEY: KEY, EIA_API_URL: baseUrl, EIA_MIN_INTERVAL_MS: '0' }) }, new Date('2025-09-02T00:40Z'));
      // planned per BA and route: CISO's region route from its own newest observed hour
      const starts = eia.requests.filter((u) => u.pathname.includes('region-data') && u.searchParams.getAll('facets[respondent][]').includes('CISO'))
        .map((u) => u.searchParams.get('start')!).sort();
      // since = 09-01 23:00 − 48 h = 08-30 23:00 (hour start), i.e. the hour-ending label 08-31T00
      assert.equal(starts[0], '2025-08-31T00');
    });

    it('ingests the real PACW fuel-type response (string values, negative wind kept)', sharedDataTest(), async () => {
      const real = JSON.parse(readFileSync(sharedPath('eia930/v2_json/pacw_2023_cassettes/fuel-type-data_PACW_2023-01-01_to_2023-01-08.json'), 'utf8'));
      eia.rows.fuel = real.response.data;
      const res = await ingestRange({ db, client: client(), logger }, { bas: ['PACW'], from: periodToStart('2023-01-01T00'), to: periodToStart('2023-01-08T00'), routes: ['fuel'] });
      assert.equal(res.errors.length, 0);
      assert.equal(res.fetched, real.response.data.length);
      const neg = real.response.data.filter((r: { value: string }) => Number(r.value) < 0).length;
      const [stored] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM observations o JOIN series s ON s.id = o.series_id WHERE s.ba_code = 'PACW' AND s.type = 'generation_by_fuel' AND o.value < 0`);
      assert.equal(stored!.n, neg);
    });
  });
}
