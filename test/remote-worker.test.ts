import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildApp } from '../src/app.ts';
import { memoryCache } from '../src/platform/cache.ts';
import { migrate } from '../src/platform/migrate.ts';
import { loadConfig } from '../src/platform/config.ts';
import type { Db } from '../src/platform/db.ts';
import { createApiKey, revokeApiKey } from '../src/auth/api-keys.ts';
import { EiaClient } from '../src/ingest/eia-client.ts';
import { ingestInto, ingestRange, type IngestRequest } from '../src/ingest/ingest-range.ts';
import { ApiRefused, ApiUnreachable, GridPulseApi } from '../src/ingest/remote/api-client.ts';
import { Spool } from '../src/ingest/remote/spool.ts';
import { RemoteIngestStore } from '../src/ingest/remote/remote-store.ts';
import { remoteHourlyJob } from '../src/ingest/remote/remote-worker.ts';
import { remoteWorkerCommand } from '../src/cli/remote-worker-command.ts';
import { CONFLICT_REASON } from '../src/ingest/store-points.ts';
import { recordStart } from '../src/ingest/intended-span.ts';
import { testDatabases, type TestDb } from './support/databases.ts';
import { FakeEia, regionRows, type FakeRow } from './support/fake-eia-server.ts';

const logger = pino({ level: 'silent' });
const EIA_KEY = 'secret-key-123';
const HOUR = 3_600_000;
const FIRST_ENDING = new Date('2025-07-01T01:00Z');
const HOURS = 72;

/** Three days of two linked BAs on every route, with a spike and a negative demand for the quality checks to find, and a null. */
function eiaRows(): FakeEia['rows'] {
  const period = (h: number) => new Date(FIRST_ENDING.getTime() + h * HOUR).toISOString().slice(0, 13);
  const region = [
    ...regionRows('CISO', FIRST_ENDING, HOURS, (h, t) => (t === 'D' && h === 40 ? '200000' : t === 'TI' ? String(-500 - h) : String(20000 + (h % 24) * 100))),
    ...regionRows('BANC', FIRST_ENDING, HOURS, (h, t) => (t === 'D' && h === 10 ? '-5' : t === 'NG' && h === 20 ? null : t === 'TI' ? String(500 + h) : String(2000 + (h % 24) * 10))),
  ];
  const fuel: FakeRow[] = [];
  const interchange: FakeRow[] = [];
  for (let h = 0; h < HOURS; h++) {
    for (const [ba, f, v] of [['CISO', 'SUN', (h % 24) * 300], ['CISO', 'NG', 15000], ['BANC', 'WAT', 1200], ['BANC', 'NG', 800]] as const) {
      fuel.push({ period: period(h), respondent: ba, fueltype: f, value: String(v) });
    }
    interchange.push({ period: period(h), fromba: 'CISO', toba: 'BANC', value: String(-500 - h) });
    interchange.push({ period: period(h), fromba: 'BANC', toba: 'CISO', value: String(500 + h) });
  }
  return { region, fuel, interchange };
}

const RANGE: IngestRequest = { bas: ['BANC', 'CISO'], from: new Date('2025-07-01T00:00Z'), to: new Date('2025-07-03T23:00Z'), routes: ['region', 'fuel', 'interchange'] };

/** Every stored observation with its series, as comparable text. */
async function snapshot(db: Db): Promise<string[]> {
  const rows = await db.query<{ key: string; source: string; eia_key: string | null; units: string; ts: Date | string; value: number | null; quality: number; revisions: number }>(
    `SELECT s.key, s.source, s.eia_key, s.units, o.ts, o.value, o.quality, o.revisions FROM observations o JOIN series s ON s.id = o.series_id ORDER BY s.key, o.ts`);
  return rows.map((r) => `${r.key}|${r.source}|${r.eia_key}|${r.units}|${new Date(r.ts).toISOString()}|${r.value}|${r.quality}|${r.revisions}`);
}

async function findings(db: Db): Promise<string[]> {
  const rows = await db.query<{ check_name: string; series_key: string; ts_from: Date | string; ts_to: Date | string; count: number }>(
    'SELECT check_name, series_key, ts_from, ts_to, count FROM quality_checks ORDER BY check_name, series_key, ts_from');
  return rows.map((r) => `${r.check_name}|${r.series_key}|${new Date(r.ts_from).toISOString()}|${new Date(r.ts_to).toISOString()}|${r.count}`);
}

/** GridPulse on a real port (port 0: any free one). */
async function serve(db: Db, port = 0): Promise<{ app: FastifyInstance; url: string; port: number }> {
  const app = await buildApp({ db, logger, cache: memoryCache() });
  await app.listen({ port, host: '127.0.0.1' });
  const p = (app.server.address() as AddressInfo).port;
  return { app, url: `http://127.0.0.1:${p}`, port: p };
}

async function openDb(target: TestDb): Promise<Db> {
  const db = await target.open();
  await migrate(db);
  return db;
}

for (const target of testDatabases()) {
  describe(`off-site worker against a GridPulse server on ${target.name}`, () => {
    const eia = new FakeEia();
    let eiaUrl: string;
    let reference: Db;
    let dir: string;
    const eiaClient = () => new EiaClient({ baseUrl: eiaUrl, apiKey: EIA_KEY, logger, minIntervalMs: 0, timeoutMs: 2000, retries: 2, pageSize: 50 });
    const remote = (url: string, key: string, spoolFile: string, Api: typeof GridPulseApi = GridPulseApi) => {
      const api = new Api({ baseUrl: url, key, logger, retries: 2, minTimeoutMs: 5, maxTimeoutMs: 20, timeoutMs: 2000 });
      const spool = new Spool(spoolFile);
      return { api, spool, store: new RemoteIngestStore(api, spool, logger, { redrainMs: 20 }) };
    };

    before(async () => {
      Object.assign(eia.rows, eiaRows());
      eiaUrl = await eia.start();
      dir = mkdtempSync(join(tmpdir(), 'gridpulse-remote-'));
      // the reference: the same range ingested directly into a database, as the local worker does
      reference = await openDb(target);
      const direct = await ingestRange({ db: reference, client: eiaClient(), logger }, { ...RANGE, kind: 'cli' });
      assert.deepEqual(direct.errors, []);
    });
    after(async () => { await eia.stop(); await reference.close(); rmSync(dir, { recursive: true, force: true }); });
    beforeEach(() => { eia.faults = []; });

    it('fills the server\'s store through the data API alone, row for row as a direct ingest, with the same checks, and the run is the key\'s on the pipeline', async () => {
      const db = await openDb(target);
      const server = await serve(db);
      const { key, token } = await createApiKey(db, { kind: 'worker', name: 'pi-garage' });
      const w = remote(server.url, token, join(dir, 'a.sqlite'));
      try {
        const t = await ingestInto(w.store, { client: eiaClient(), logger }, { ...RANGE, kind: 'cli' });
        await w.store.flush();
        assert.deepEqual(t.errors, []);
        assert.deepEqual(w.store.counts(), { queued: 0, refused: 0 });
        const want = await snapshot(reference);
        // 2 BAs × 72 h × (4 region + 2 fuel + 1 interchange) series
        assert.equal(want.length, 2 * HOURS * 7);
        assert.deepEqual(await snapshot(db), want);
        const wantFindings = await findings(reference);
        assert.ok(wantFindings.some((f) => f.startsWith('spike|CISO.demand|2025-07-02T16:00')), wantFindings.join('\n'));
        assert.deepEqual(await findings(db), wantFindings);
        const runs = (await server.app.inject({ url: '/api/v1/pipeline/runs' })).json<{ data: Array<Record<string, unknown> & { params: Record<string, unknown> }> }>().data;
        assert.equal(runs.length, 1);
        const [ref] = await reference.query<{ rows_fetched: number; rows_inserted: number }>('SELECT rows_fetched, rows_inserted FROM ingest_runs');
        assert.deepEqual(
          { kind: runs[0]!.kind, source: runs[0]!.source, status: runs[0]!.status, fetched: runs[0]!.rowsFetched, inserted: runs[0]!.rowsInserted, apiKey: runs[0]!.params.apiKey, workerRun: runs[0]!.params.workerRun },
          { kind: 'cli (worker pi-garage)', source: 'eia', status: 'succeeded', fetched: ref!.rows_fetched, inserted: ref!.rows_inserted, apiKey: key.id, workerRun: t.runId });
        const [checked] = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM quality_checks WHERE run_id = $1', [runs[0]!.id]);
        assert.ok(checked!.n > 0, 'the findings are under the worker\'s run');
      } finally { await w.store.close(); w.spool.close(); await server.app.close(); await db.close(); }
    });

    it('loses nothing when the server goes away mid-run: the spool on disk drains in order after the server (and the worker) restart', async () => {
      const db = await openDb(target);
      let server = await serve(db);
      const { token } = await createApiKey(db, { kind: 'worker', name: 'pi-garage' });
      const file = join(dir, 'b.sqlite');
      // GridPulse goes away once it has taken the run's open and its first three batches
      let gone: () => void;
      const wentAway = new Promise<void>((resolve) => { gone = resolve; });
      class Cut extends GridPulseApi {
        private batches = 0;
        override async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
          if (path === '/api/v1/data/observations' && ++this.batches === 4) { await server.app.close(); gone(); }
          return super.request<T>(method, path, body);
        }
      }
      let w = remote(server.url, token, file, Cut);
      try {
        const t = await ingestInto(w.store, { client: eiaClient(), logger }, { ...RANGE, kind: 'cli' });
        await wentAway;
        assert.deepEqual(t.errors, [], 'EIA fetching went on while GridPulse was down');
        await assert.rejects(w.store.flush(), ApiUnreachable);
        const queued = w.store.counts().queued;
        assert.ok(queued >= 7, `the later days' batches and the close are spooled (${queued})`);
        const partial = (await snapshot(db)).length;
        assert.ok(partial > 0 && partial <= 3 * 50, `only the first three batches (pages of 50) reached the server (${partial} rows)`);
        // the worker restarts too: the spool is a file, not memory
        await w.store.close();
        w.spool.close();
        server = await serve(db, server.port);
        w = remote(server.url, token, file);
        assert.equal(w.store.counts().queued, queued);
        await w.store.flush();
        assert.deepEqual(w.store.counts(), { queued: 0, refused: 0 });
        assert.deepEqual(await snapshot(db), await snapshot(reference));
        assert.deepEqual(await findings(db), await findings(reference));
        const [run] = await db.query<{ status: string; rows_inserted: number; rows_fetched: number }>('SELECT status, rows_inserted, rows_fetched FROM ingest_runs');
        assert.deepEqual({ ...run }, { status: 'succeeded', rows_inserted: 2 * HOURS * 7, rows_fetched: t.fetched });
      } finally { await w.store.close(); w.spool.close(); await server.app.close(); await db.close(); }
    });

    it('plans the hourly pass per BA and route from what the server has stored, and backfills the gaps it reports', async () => {
      const db = await openDb(target);
      const server = await serve(db);
      const { token } = await createApiKey(db, { kind: 'worker' });
      // stored: CISO's fuel mix through 07-03 23:00, but its BA-to-BA interchange only through 07-02 11:00, and a hole in CISO demand older than the 48 h the pass re-reads
      await ingestRange({ db, client: eiaClient(), logger }, { bas: ['CISO'], from: RANGE.from, to: RANGE.to, routes: ['region', 'fuel'] });
      await ingestRange({ db, client: eiaClient(), logger }, { bas: ['CISO'], from: RANGE.from, to: new Date('2025-07-02T11:00Z'), routes: ['interchange'] });
      await db.query(`DELETE FROM observations WHERE series_id = (SELECT id FROM series WHERE key = 'CISO.demand') AND ts BETWEEN '2025-07-01T03:00Z' AND '2025-07-01T05:00Z'`);
      // the store's first start meant to cover from 07-01 (the worker proposes four weeks back; the recorded start wins)
      await recordStart(db, 'eia', RANGE.from);
      const w = remote(server.url, token, join(dir, 'c.sqlite'));
      try {
        eia.requests = [];
        const s = await remoteHourlyJob({ api: w.api, store: w.store, client: eiaClient(), logger }, new Date('2025-07-04T00:30Z'));
        assert.equal(s.errors, 0);
        const starts = (route: string, ba: string) => eia.requests
          .filter((u) => u.pathname.includes(route) && u.searchParams.getAll(route === 'interchange' ? 'facets[fromba][]' : 'facets[respondent][]').includes(ba))
          .map((u) => u.searchParams.get('start')!).sort();
        // each from its own newest hour minus 48 h (hour-ending labels are one hour later than the hour start)
        assert.equal(starts('fuel', 'CISO')[0], '2025-07-02T00', 'fuel: 07-03 23:00 − 48 h');
        // interchange: 07-02 11:00 − 48 h, not the fuel mix's newest hour, and never before the store's intended start
        assert.equal(starts('interchange', 'CISO')[0], '2025-07-01T01', 'interchange: from the intended start (07-02 11:00 − 48 h is before it)');
        assert.equal(starts('region', 'BANC')[0], '2025-07-01T01', 'nothing stored for BANC: from the store\'s intended start, as CISO');
        assert.equal(s.gaps, 1, 'the demand hole');
        assert.equal(s.backfilled, 1);
        const [hole] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'CISO.demand' AND ts BETWEEN '2025-07-01T03:00Z' AND '2025-07-01T05:00Z'`);
        assert.equal(hole!.n, 3);
        const mine = (await snapshot(db)).filter((r) => r.startsWith('CISO.') || r.startsWith('BANC.'));
        assert.deepEqual(mine.map((r) => r.split('|').slice(0, 6).join('|')), (await snapshot(reference)).map((r) => r.split('|').slice(0, 6).join('|')));
        const kinds = (await db.query<{ kind: string; status: string }>('SELECT kind, status FROM ingest_runs WHERE kind LIKE \'%worker%\' ORDER BY id')).map((r) => `${r.kind}:${r.status}`);
        assert.ok(kinds.length >= 2 && kinds.every((k) => k.endsWith(':succeeded')), kinds.join());
        assert.ok(kinds.some((k) => k.startsWith('backfill (worker ')), kinds.join());
      } finally { await w.store.close(); w.spool.close(); await server.app.close(); await db.close(); }
    });

    it('refuses a bad key clearly, keeps what was fetched on disk, and writes nothing', async () => {
      const db = await openDb(target);
      const server = await serve(db);
      const { key, token } = await createApiKey(db, { kind: 'worker' });
      await revokeApiKey(db, key.id);
      const w = remote(server.url, token, join(dir, 'd.sqlite'));
      try {
        await assert.rejects(remoteHourlyJob({ api: w.api, store: w.store, client: eiaClient(), logger }, new Date('2025-07-04T00:30Z')),
          (err: unknown) => err instanceof ApiRefused && err.keyRefused && /refused the worker key \(401\): unknown, revoked or expired API key/.test(err.message));
        await ingestInto(w.store, { client: eiaClient(), logger }, { ...RANGE, routes: ['fuel'], kind: 'cli' });
        await assert.rejects(w.store.flush(), (err: unknown) => err instanceof ApiRefused && err.status === 401);
        assert.ok(w.store.counts().queued > 0, 'kept, not dropped');
        assert.equal(w.store.counts().refused, 0);
        const [n] = await db.query<{ n: number }>('SELECT (SELECT count(*) FROM observations) + (SELECT count(*) FROM ingest_runs) AS n');
        assert.equal(Number(n!.n), 0);
        const spoolFile = join(dir, 'e.sqlite');
        const config = loadConfig({ EIA_API_KEY: EIA_KEY, EIA_API_URL: eiaUrl, DATA_DIR: dir, LOG_LEVEL: 'silent' });
        await assert.rejects(remoteWorkerCommand(config, { remote: server.url, key: token, spool: spoolFile, once: true }), /refused the worker key \(401\)/);
        await assert.rejects(remoteWorkerCommand(config, { remote: server.url, spool: spoolFile, once: true }), /needs a worker key: --key KEY or GRIDPULSE_API_KEY/);
        await assert.rejects(remoteWorkerCommand(loadConfig({}), { remote: server.url, key: token, once: true }), /set EIA_API_KEY/);
        await assert.rejects(remoteWorkerCommand(config, { remote: server.url, key: 'not-a-key', spool: spoolFile, once: true }), /--key \(GRIDPULSE_API_KEY\): a worker key as printed by/);
        await assert.rejects(remoteWorkerCommand(config, { remote: 'ftp://x', key: token, spool: spoolFile, once: true }), /--remote \(GRIDPULSE_API_URL\): an http\(s\) URL/);
      } finally { await w.store.close(); w.spool.close(); await server.app.close(); await db.close(); }
    });

    it('answers bad run requests with problem+json naming the field, and a run belongs to its key', async () => {
      const db = await openDb(target);
      const server = await serve(db);
      const { token } = await createApiKey(db, { kind: 'worker', name: 'a' });
      const { token: other } = await createApiKey(db, { kind: 'worker', name: 'b' });
      const call = (method: 'POST' | 'GET', url: string, payload: unknown, t = token) => server.app.inject({ method, url, headers: { authorization: `Bearer ${t}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
      try {
        const id = '6f1c1e1a-0000-4000-8000-000000000001';
        const params = { bas: ['CISO'], from: '2025-07-01T00:00:00Z', to: '2025-07-01T23:00:00Z', routes: ['region'] };
        const bad = await call('POST', '/api/v1/data/runs', { id, kind: 'hourly', params: { ...params, from: '2025-07-01T00:30:00Z' } });
        assert.equal(bad.statusCode, 400);
        assert.match(bad.headers['content-type'] as string, /application\/problem\+json/);
        assert.match(bad.json<{ detail: string }>().detail, /params\/from: must be the start of an hour/);
        assert.equal((await call('POST', '/api/v1/data/runs', { id, kind: 'hourly', params: { ...params, to: '2025-06-30T00:00:00Z' } })).statusCode, 400);
        assert.equal((await call('POST', '/api/v1/data/runs', { id: 'not-a-uuid', kind: 'hourly', params })).statusCode, 400);
        // an hour PostgreSQL holds no date for (the year 0000), or outside the era: 400 naming it, never a 500 (attack)
        for (const from of ['0000-01-01T00:00:00Z', '1999-12-31T23:00:00Z']) {
          const ancient = await call('POST', '/api/v1/data/runs', { id, kind: 'hourly', params: { ...params, from } });
          assert.equal(ancient.statusCode, 400, ancient.body);
          assert.equal(ancient.json<{ field: string }>().field, 'params/from');
        }
        const opened = await call('POST', '/api/v1/data/runs', { id, kind: 'hourly', params });
        assert.equal(opened.statusCode, 201);
        const again = await call('POST', '/api/v1/data/runs', { id, kind: 'hourly', params });
        assert.deepEqual({ status: again.statusCode, body: again.json() }, { status: 200, body: { ...opened.json<object>(), created: false } });
        const rows = [
          { ba: 'CISO', type: 'demand', ts: '2025-07-01T00:00:00Z', value: 21000 },
          { ba: 'CISO', type: 'co2', ts: '2025-07-01T00:00:00Z', value: 1 },
          { series: 'CISO.demand', ts: '2025-07-01T01:00:00Z', value: 1 },
          { ba: 'XXXX', type: 'demand', ts: '2025-07-01T00:00:00Z', value: 1 },
          { ba: 'CISO', type: 'ba_interchange', subtype: 'NOPE', ts: '2025-07-01T00:00:00Z', value: 1 },
          { ba: 'CISO', type: 'generation_by_fuel', ts: '2025-07-01T00:00:00Z', value: 1 },
        ];
        const batch = await call('POST', '/api/v1/data/observations', { run: id, rows });
        assert.equal(batch.statusCode, 200);
        const b = batch.json<{ inserted: number; rejected: number; errors: Array<{ index: number; field: string }> }>();
        assert.deepEqual({ inserted: b.inserted, rejected: b.rejected, errors: b.errors.map((e) => `${e.index}:${e.field}`) },
          { inserted: 1, rejected: 5, errors: ['1:type', '2:series', '3:ba', '4:subtype', '5:subtype'] });
        const [series] = await db.query<{ source: string; eia_key: string }>(`SELECT source, eia_key FROM series WHERE key = 'CISO.demand'`);
        assert.deepEqual({ ...series }, { source: 'eia', eia_key: 'EBA.CISO-ALL.D.H' });
        const foreign = await call('POST', '/api/v1/data/observations', { run: id, rows: rows.slice(0, 1) }, other);
        assert.deepEqual({ status: foreign.statusCode, field: foreign.json<{ field: string }>().field }, { status: 404, field: 'run' });
        const finish = { fetched: 6, requests: 1, retries: 0, rejected: 0, errors: [] };
        assert.equal((await call('POST', `/api/v1/data/runs/${id}/finish`, finish, other)).statusCode, 404);
        assert.equal((await call('POST', `/api/v1/data/runs/${id}/finish`, { ...finish, fetched: -1 })).statusCode, 400);
        const closed = await call('POST', `/api/v1/data/runs/${id}/finish`, finish);
        assert.deepEqual({ http: closed.statusCode, ...closed.json<object>() },
          { http: 200, runId: opened.json<{ runId: number }>().runId, id, status: 'succeeded', fetched: 6, inserted: 1, updated: 0, rejected: 5, errors: 0 });
        const twice = await call('POST', `/api/v1/data/runs/${id}/finish`, { ...finish, rejected: 9 });
        assert.deepEqual(twice.json(), closed.json(), 'closing again changes nothing');
        const routes = await call('GET', '/api/v1/data/latest/routes', undefined);
        const ciso = routes.json<{ data: Array<{ ba: string; route: string; newest: string | null }> }>().data.filter((c) => c.ba === 'CISO');
        assert.deepEqual(ciso, [{ ba: 'CISO', route: 'region', newest: '2025-07-01T00:00:00.000Z' }, { ba: 'CISO', route: 'fuel', newest: null }, { ba: 'CISO', route: 'interchange', newest: null }]);
        assert.equal((await call('GET', '/api/v1/data/gaps?since=yesterday', undefined)).statusCode, 400);
        assert.equal((await server.app.inject({ url: '/api/v1/data/gaps' })).statusCode, 401);
      } finally { await server.app.close(); await db.close(); }
    });

    it('asks EIA only for the hours each BA reports, from the server\'s registry, as a local ingest does', async () => {
      const db = await openDb(target);
      const server = await serve(db);
      const { token } = await createApiKey(db, { kind: 'worker' });
      // BANC begins reporting on 07-02 (BA-local, Pacific): 07-02T07:00Z, hour-ending label 07-02T08
      await db.query(`UPDATE balancing_authorities SET reporting_since = '2025-07-02' WHERE code = 'BANC'`);
      const w = remote(server.url, token, join(dir, 'g.sqlite'));
      const firstAsked = (ba: string) => eia.requests.filter((u) => u.pathname.includes('region') && u.searchParams.getAll('facets[respondent][]').includes(ba))
        .map((u) => u.searchParams.get('start')!).sort()[0];
      try {
        eia.requests = [];
        await ingestInto(w.store, { client: eiaClient(), logger }, { ...RANGE, routes: ['region'], kind: 'cli' });
        assert.equal(firstAsked('BANC'), '2025-07-01T01', 'before the registry was read: the whole range (the server clips its plan and gaps itself)');
        await w.store.loadRegistry();
        eia.requests = [];
        await ingestInto(w.store, { client: eiaClient(), logger }, { ...RANGE, routes: ['region'], kind: 'cli' });
        assert.equal(firstAsked('BANC'), '2025-07-02T08');
        assert.equal(firstAsked('CISO'), '2025-07-01T01');
        await w.store.flush();
        const [banc] = await db.query<{ first: Date | string }>(`SELECT min(o.ts) AS first FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'BANC.demand'`);
        assert.equal(new Date(banc!.first).toISOString(), '2025-07-01T00:00:00.000Z', 'the first run stored what EIA gave');
      } finally { await w.store.close(); w.spool.close(); await server.app.close(); await db.close(); }
    });

    it('counts a worker run\'s batches under the one duplicate rule, and its close arrives even with a newline in an error', async () => {
      const db = await openDb(target);
      const server = await serve(db);
      const { token } = await createApiKey(db, { kind: 'worker' });
      const w = remote(server.url, token, join(dir, 'f.sqlite'));
      try {
        const run = await w.store.openRun('cli', { bas: ['CISO'], from: '2025-07-01T00:00:00.000Z', to: '2025-07-01T23:00:00.000Z', routes: ['region'] });
        const at = (h: number) => new Date(Date.UTC(2025, 6, 1, h));
        const counts = await run.store([
          { route: 'region', ba: 'CISO', code: 'D', ts: at(0), value: 21000 },
          { route: 'region', ba: 'CISO', code: 'D', ts: at(0), value: 21000 },
          { route: 'region', ba: 'CISO', code: 'D', ts: at(1), value: 1 },
          { route: 'region', ba: 'CISO', code: 'D', ts: at(1), value: 2 },
          { route: 'region', ba: 'CISO', code: 'XX', ts: at(2), value: 3 },
        ], 'region 2025-07-01');
        assert.deepEqual(counts, { inserted: 0, updated: 0, rejected: 1, duplicates: 0, conflicting: 0, reasons: { 'unknown region type': 1 } }, 'only the worker\'s own refusal is known before delivery');
        await run.finish({ fetched: 5, inserted: 0, updated: 0, rejected: 1, requests: 1, retries: 0, errors: ['fuel 2025-07-01: EIA said\r\nno\tthanks'], reasons: counts.reasons },
          { bas: ['CISO'], from: at(0), to: at(23) });
        await w.store.flush();
        assert.deepEqual(w.store.counts(), { queued: 0, refused: 0 }, 'nothing refused: the close reached GridPulse');
        const [r] = await db.query<Record<string, unknown>>(
          `SELECT status, rows_fetched, rows_inserted, rows_rejected, rows_duplicate, rows_conflicting, rejections, errors, jsonb_typeof(rejections) AS rt, jsonb_typeof(errors) AS et FROM ingest_runs`);
        assert.deepEqual({ ...r }, {
          status: 'partial', rows_fetched: 5, rows_inserted: 1, rows_rejected: 3, rows_duplicate: 1, rows_conflicting: 2,
          rejections: { 'unknown region type': 1, [CONFLICT_REASON]: 2 }, errors: ['fuel 2025-07-01: EIA said  no thanks'], rt: 'object', et: 'array',
        });
        const conflicts = await db.query<{ series_key: string; count: number }>(`SELECT series_key, count FROM quality_checks WHERE check_name = 'conflicting_duplicate'`);
        assert.deepEqual(conflicts.map((c) => ({ ...c })), [{ series_key: 'CISO.demand', count: 1 }], 'the conflicting hour is a finding of the run');
        const [kept] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'CISO.demand' AND o.ts = '2025-07-01T01:00Z'`);
        assert.equal(kept!.n, 0, 'neither conflicting value is stored');
      } finally { await w.store.close(); w.spool.close(); await server.app.close(); await db.close(); }
    });
  });
}
