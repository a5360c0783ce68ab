import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { pino } from 'pino';
import { testDatabases } from './support/databases.ts';
import { openTestApp } from './support/app.ts';
import type { Db } from '../src/platform/db.ts';
import { WorkerPool, runInWorker } from '../src/platform/off-loop.ts';
import { listBas, type BalancingAuthority } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid, simulateReportingGrid } from '../src/ingest/simulated-grid.ts';
import { refreshForecasts, consumptionValues } from '../src/analytics/forecast/forecast.ts';
import { loadSystemHours } from '../src/analytics/intensity/intensity.ts';
import { fillState } from '../src/ingest/fill-state.ts';
import { startRun, finishRun } from '../src/ingest/run-ledger.ts';

const HOUR = 3_600_000;
const silent = pino({ level: 'silent' });
const SIMULATED_GRID = new URL('../src/ingest/simulated-grid.ts', import.meta.url).href;
const FORECAST = new URL('../src/analytics/forecast/forecast.ts', import.meta.url).href;
/** A connected part of the western grid: enough BAs for the jobs to be real work, few enough for a fast test. */
const WEST = ['CISO', 'BANC', 'LDWP', 'IID', 'TIDC', 'BPAT', 'PACW', 'PACE', 'NEVP', 'AZPS', 'SRP', 'WALC', 'PNM', 'PSCO', 'IPCO', 'AVA', 'PGE', 'PSEI', 'SCL', 'TEPC'];
const hourFloor = (t: number) => Math.floor(t / HOUR) * HOUR;

async function westBas(db: Db): Promise<BalancingAuthority[]> {
  return (await listBas(db)).filter((b) => WEST.includes(b.code));
}

describe('worker pool (platform/off-loop.ts)', () => {
  it('runs an export on a worker thread and returns exactly what the function returns in-process (Maps, Dates)', async () => {
    const pool = new WorkerPool(2);
    try {
      const { db } = await openTestApp(testDatabases()[0]!);
      const bas = await westBas(db);
      await db.close();
      await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 24 * 365 * 3 }), fc.integer({ min: 1, max: 30 }), async (offset, hours) => {
        const from = new Date(Date.UTC(2024, 0, 1) + offset * HOUR);
        const there = await pool.run(SIMULATED_GRID, 'simulateReportingGrid', [bas, from, hours]);
        assert.deepEqual(there, simulateReportingGrid(bas, from, hours));
      }), { numRuns: 4 });
      assert.equal(pool.load.threads <= 2, true);
    } finally {
      await pool.close();
    }
  });
  it('rejects with the worker\'s own error, names a missing export, refuses arguments that cannot be cloned, and goes on working', async () => {
    const pool = new WorkerPool(1);
    try {
      await assert.rejects(pool.run(FORECAST, 'forecastTargets', [null, 'UTC', new Date()]), /null|iterable|map/i);
      await assert.rejects(pool.run(FORECAST, 'noSuchExport', []), /has no exported function noSuchExport/);
      await assert.rejects(pool.run(FORECAST, 'forecastTargets', [[], 'UTC', () => 1]), /cannot be sent to a worker thread/);
      assert.deepEqual(await pool.run(FORECAST, 'forecastTargets', [[['demand', undefined]], 'UTC', new Date()]), ['no data']);
      await pool.close();
      await assert.rejects(pool.run(FORECAST, 'forecastTargets', [[], 'UTC', new Date()]), /closed/);
    } finally {
      await pool.close();
    }
  });
  it('runs tasks side by side on separate threads, queueing beyond the pool size', async () => {
    const pool = new WorkerPool(2);
    try {
      const bas = [{ code: 'CISO', generationOnly: false, timeZone: 'America/Los_Angeles', geographicTimeZone: 'America/Los_Angeles', beganOn: null, retiredOn: null }];
      const runs = Array.from({ length: 5 }, (_, i) => pool.run(SIMULATED_GRID, 'simulateReportingGrid', [bas, new Date(Date.UTC(2025, 0, 1 + i)), 24]));
      assert.equal(pool.load.queued + pool.load.running, 5);
      assert.equal(pool.load.running <= 2, true);
      const out = await Promise.all(runs) as Array<Map<string, unknown[]>>;
      for (const m of out) assert.equal(m.get('CISO')!.length > 24, true);
      assert.deepEqual(pool.load, { queued: 0, running: 0, threads: 2 });
    } finally {
      await pool.close();
    }
  });
});

for (const target of testDatabases({ pgliteWorker: true })) {
  describe(`the web while jobs run on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let base: string;
    before(async () => {
      ({ db, app } = await openTestApp(target));
      base = await app.listen({ port: 0, host: '127.0.0.1' });
    });
    after(async () => { await app.close(); await db.close(); });

    /** Polls /healthz over real HTTP while `job` runs: every answer's latency, and the event loop's delay (monitorEventLoopDelay). */
    async function whileRunning(job: () => Promise<unknown>): Promise<{ latencies: number[]; loopP99: number; loopMax: number }> {
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      await new Promise((r) => setTimeout(r, 20));
      let done = false;
      const latencies: number[] = [];
      const poll = (async () => {
        while (!done) {
          const t0 = performance.now();
          const res = await fetch(`${base}/healthz`);
          assert.equal(res.status, 200);
          await res.text();
          latencies.push(performance.now() - t0);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      try { await job(); } finally { done = true; await poll; loop.disable(); }
      return { latencies, loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6 };
    }

    it('/healthz answers all through the first fill, and the pipeline state says "filling" with its progress', async () => {
      const bas = await westBas(db);
      const now = hourFloor(Date.now());
      const from = new Date(now - 16 * 24 * HOUR);
      assert.equal((await fillState(db)).state, 'empty');
      const states: Array<{ state: string; progress: number | null }> = [];
      let stop = false;
      const watch = (async () => {
        while (!stop) {
          states.push(await fillState(db));
          await new Promise((r) => setTimeout(r, 10)); // the fill lands a BA at a time: look often enough to see it part way
        }
      })();
      const r = await whileRunning(() => loadSimulatedGrid({ db, logger: silent }, bas, from, 16 * 24));
      stop = true;
      await watch;
      // answered many times, never held for long (before: one answer, after the whole fill)
      assert.ok(r.latencies.length >= 10, `only ${r.latencies.length} answers during the fill`);
      const sorted = [...r.latencies].sort((a, b) => a - b);
      assert.ok(sorted[Math.floor(sorted.length * 0.9)]! < 500, `/healthz p90 ${sorted[Math.floor(sorted.length * 0.9)]} ms during the fill`);
      const filling = states.filter((x) => x.state === 'filling');
      assert.ok(filling.length > 0, `states seen: ${[...new Set(states.map((x) => x.state))].join(', ')}`);
      assert.ok(filling.every((x) => x.progress !== null && x.progress >= 0 && x.progress <= 1));
      assert.ok(filling.some((x) => x.progress! > 0 && x.progress! < 1), `progress shown part way: ${JSON.stringify([...new Set(states.map((x) => `${x.state}:${x.progress}`))])}`);
      assert.equal((await fillState(db)).state, 'ready');
    });

    it('a forecast refresh keeps the event loop delay p99 under 100 ms, and /healthz answering', async () => {
      const r = await whileRunning(() => refreshForecasts({ db, logger: silent }, { bas: WEST }));
      assert.ok(r.latencies.length >= 5, `only ${r.latencies.length} answers during the refresh`);
      assert.ok(r.loopP99 < 100, `event loop delay p99 ${r.loopP99.toFixed(0)} ms (max ${r.loopMax.toFixed(0)} ms) during the forecast refresh`);
      const [row] = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM forecast_runs');
      assert.ok(row!.n > 0, 'the refresh stored forecasts');
    });

    it('traces the system on a worker thread exactly as in-process', async () => {
      const now = hourFloor(Date.now());
      const system = await loadSystemHours(db, new Date(now - 5 * 24 * HOUR), new Date(now));
      assert.deepEqual(await runInWorker(FORECAST, 'consumptionValues', [system, []]), consumptionValues(system, []));
    });

    it('fill state: filling while a run works on an old store, with the share of its range stored; ready after', async () => {
      const now = new Date(Date.now() + 7 * HOUR); // the newest stored hour is then 7 h behind
      const newest = (await fillState(db)).dataThrough!;
      const runId = await startRun(db, 'simulated', 'simulated', { from: new Date(Date.parse(newest) - 15 * 24 * HOUR).toISOString(), hours: 30 * 24 });
      const s = await fillState(db, now);
      assert.equal(s.state, 'filling');
      assert.equal(s.filling, true);
      assert.equal(s.run?.id, runId);
      assert.ok(Math.abs(s.progress! - (15 * 24 + 1) / (30 * 24)) < 1e-9, `progress ${s.progress}`);
      await finishRun(db, runId, { fetched: 0, inserted: 0, updated: 0, rejected: 0, requests: 0, retries: 0, errors: [] });
      assert.equal((await fillState(db, now)).state, 'ready');
    });
  });
}

const BUILT = existsSync(fileURLToPath(new URL('../build/web/server/index.js', import.meta.url)));
describe('the site and the API while the store fills', { skip: !BUILT && !process.env.CI ? 'no web build (npm run build)' : false }, () => {
  it('every page shows the "Filling…" notice during the first fill and /api/v1/now says filling; neither once the store is ready', async () => {
    const { db, app } = await openTestApp(testDatabases()[0]!);
    try {
      const bas = (await westBas(db)).slice(0, 3);
      const now = hourFloor(Date.now());
      await loadSimulatedGrid({ db, logger: silent }, bas, new Date(now - 10 * 24 * HOUR), 24);
      const runId = await startRun(db, 'simulated', 'simulated', { from: new Date(now - 10 * 24 * HOUR).toISOString(), hours: 10 * 24 });
      // the API says so too
      assert.equal((await app.inject('/api/v1/now')).json().filling, true);
      assert.deepEqual((await app.inject('/api/v1/pipeline/state')).json().data, { ...(await fillState(db)), progress: 0.1 });
      for (const path of ['/', '/ba/CISO', '/pipeline']) {
        const page = await app.inject(path);
        assert.equal(page.statusCode, 200, path);
        assert.match(page.body.replaceAll('<!-- -->', ''), /Filling…<\/strong> GridPulse is loading its history \(data through \d{4}-\d\d-\d\d \d\d:00 UTC, 10 % done\)/, path);
      }
      await finishRun(db, runId, { fetched: 0, inserted: 0, updated: 0, rejected: 0, requests: 0, retries: 0, errors: [] });
      await new Promise((r) => setTimeout(r, 5_100)); // the state is reused for 5 s
      assert.doesNotMatch((await app.inject('/ba/CISO')).body, /Filling…/);
      assert.equal((await app.inject('/api/v1/now')).json().filling, false);
    } finally {
      await app.close();
      await db.close();
    }
  });
});
