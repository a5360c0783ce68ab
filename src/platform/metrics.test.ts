import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { openTestApp } from '../../test/support/app.ts';
import { buildApp } from '../app.ts';
import { listBas } from '../grid/ba-repository.ts';
import { loadSimulatedGrid } from '../ingest/simulated-grid.ts';
import { JOB_OUTCOMES, startScheduler } from '../ingest/scheduler.ts';
import { memoryCache } from './cache.ts';
import { loadConfig } from './config.ts';
import type { Db } from './db.ts';
import { migrate } from './migrate.ts';
import { Metrics, attachMetrics, once } from './metrics.ts';
import { metricsServer } from './http.ts';

const logger = pino({ level: 'silent' });

interface Sample { name: string; labels: Record<string, string>; value: number }

/** The samples of a Prometheus text exposition (enough of the format for these tests). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function scrape(app: FastifyInstance, headers: Record<string, string> = {}): Promise<Sample[]> {
  const res = await app.inject({ url: '/metrics', headers });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return parse(res.body);
}

const DURATION = 'gridpulse_http_request_duration_seconds_count';

for (const target of testDatabases()) {
  describe(`metrics on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => { ({ db, app } = await openTestApp(target)); });
    after(async () => { await app.close(); await db.close(); });

    it('counts requests by method, route pattern and status, never the concrete URL', async () => {
      for (const url of ['/api/v1/bas/CISO', '/api/v1/bas/PJM', '/api/v1/bas/NOPE', '/api/v1/bas/ciso/now', '/api/v1/bas/PJM/now', '/api/v1/no/such/thing', '/some/page']) await app.inject(url);
      const samples = await scrape(app);
      assert.equal(value(samples, DURATION, { method: 'GET', route: '/api/v1/bas/:code', status_code: '200' }), 2);
      assert.equal(value(samples, DURATION, { method: 'GET', route: '/api/v1/bas/:code', status_code: '404' }), 1);
      assert.equal(value(samples, DURATION, { method: 'GET', route: '/api/v1/bas/:code/now' }), 2);
      assert.equal(value(samples, DURATION, { route: 'unmatched', status_code: '404' }), 1);
      const routes = new Set(samples.filter((s) => s.name === DURATION).map((s) => s.labels.route));
      for (const r of routes) assert.doesNotMatch(r ?? '', /CISO|PJM|NOPE|ciso|such|some/, `concrete URL as a label: ${r}`);
      // the Node process metrics are there too
      assert.ok(value(samples, 'process_cpu_user_seconds_total') > 0);
      assert.ok(samples.some((s) => s.name === 'nodejs_heap_size_used_bytes'));
      // histogram buckets keep the same labels
      assert.equal(value(samples, 'gridpulse_http_request_duration_seconds_bucket', { route: '/api/v1/bas/:code', status_code: '200', le: '+Inf' }), 2);
    });

    it('needs the bearer token once METRICS_TOKEN protects it', async () => {
      const other = await buildApp({ db, logger, cache: memoryCache() });
      try {
        other.metrics.protect('a-long-metrics-token');
        const none = await other.inject('/metrics');
        assert.equal(none.statusCode, 401);
        assert.match(String(none.headers['www-authenticate']), /^Bearer/);
        assert.equal((await other.inject({ url: '/metrics', headers: { authorization: 'Bearer wrong-token' } })).statusCode, 401);
        await scrape(other, { authorization: 'Bearer a-long-metrics-token' });
      } finally { await other.close(); }
    });

    it('keeps one registry per app: two apps in one process count separately', async () => {
      const a = await buildApp({ db, logger, cache: memoryCache() });
      const b = await buildApp({ db, logger, cache: memoryCache() });
      try {
        await a.inject('/healthz');
        await a.inject('/healthz');
        await b.inject('/healthz');
        assert.equal(value(await scrape(a), DURATION, { route: '/healthz' }), 2);
        assert.equal(value(await scrape(b), DURATION, { route: '/healthz' }), 1);
      } finally { await a.close(); await b.close(); }
    });

    it('counts rows written by ingestion and analytics cache outcomes through the attached db and cache', async () => {
      const cache = memoryCache();
      const fresh = await target.open();
      await migrate(fresh);
      const withCache = await buildApp({ db: fresh, logger, cache });
      try {
        attachMetrics(withCache.metrics, fresh, cache);
        const bas = (await listBas(fresh)).filter((b) => ['CISO', 'PJM'].includes(b.code));
        const from = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000);
        const t = await loadSimulatedGrid({ db: fresh, logger }, bas, from, 6);
        assert.ok(t.inserted > 0);
        for (let i = 0; i < 3; i++) assert.equal((await withCache.inject('/api/v1/bas/CISO/now')).statusCode, 200);
        const samples = await scrape(withCache);
        assert.equal(value(samples, 'gridpulse_ingest_rows_written_total', { source: 'simulated', kind: 'inserted' }), t.inserted);
        assert.equal(value(samples, 'gridpulse_analytics_cache_requests_total', { outcome: 'miss' }), 1);
        assert.equal(value(samples, 'gridpulse_analytics_cache_requests_total', { outcome: 'hit' }), 2);
      } finally { await withCache.close(); await cache.close(); await fresh.close(); }
    });

    it('counts scheduled job runs by job_name and outcome, with their durations; a run the stop cut short is "stopped"', async () => {
      const metrics = new Metrics({ processMetrics: false });
      let ran = 0;
      let halting = false;
      const s = startScheduler({ db, logger, config: loadConfig({}), metrics }, { ingest: '0 0 1 1 *', daily: '0 0 1 1 *' }, [
        { name: 'works', lock: 930_101, cron: '* * * * * *', run: async () => { ran++; } },
        { name: 'breaks', lock: 930_102, cron: '* * * * * *', run: async () => { throw new Error('boom'); } },
        // a long fill: it returns after its current batch once the worker stops
        { name: 'fills', lock: 930_103, cron: '* * * * * *', run: async (d) => { halting = true; while (!d.signal?.aborted) await sleep(20); } },
      ]);
      try {
        // every job's every outcome is a series from the start (Prometheus's increase() needs the 0 before the first failure)
        const atStart = parse(await metrics.render());
        for (const job_name of ['works', 'breaks', 'fills', 'hourly-ingest', 'daily']) {
          for (const outcome of JOB_OUTCOMES) {
            const series = atStart.filter((x) => x.name === 'gridpulse_job_runs_total' && x.labels.job_name === job_name && x.labels.outcome === outcome);
            assert.deepEqual(series.map((x) => x.value), [0], `${job_name} ${outcome} declared at 0`);
          }
        }
        assert.deepEqual(atStart.filter((x) => x.name === 'gridpulse_eia_circuit_open').map((x) => x.value), [0], 'the EIA breaker gauge exists before the first EIA call');
        const deadline = Date.now() + 5_000;
        while ((ran === 0 || !halting) && Date.now() < deadline) await sleep(100);
        await sleep(50);
        await s.stop();
        const samples = parse(await metrics.render());
        assert.ok(ran >= 1);
        assert.equal(value(samples, 'gridpulse_job_runs_total', { job_name: 'works', outcome: 'ok' }), ran);
        assert.ok(value(samples, 'gridpulse_job_runs_total', { job_name: 'breaks', outcome: 'failed' }) >= 1);
        assert.equal(value(samples, 'gridpulse_job_duration_seconds_count', { job_name: 'works', outcome: 'ok' }), ran);
        assert.equal(value(samples, 'gridpulse_job_runs_total', { job_name: 'fills', outcome: 'stopped' }), 1, 'the run cut short by the stop');
        assert.ok(samples.some((x) => x.name === 'gridpulse_job_runs_total' && x.labels.job_name === 'fills' && x.labels.outcome === 'ok' && x.value === 0), 'an unfinished run is not ok');
        assert.ok(samples.every((x) => !('job' in x.labels)), 'no label named job: Prometheus owns it (scrape job)');
      } finally { await s.stop(); }
    });
  });
}

describe('metrics server of a worker without the API', () => {
  it('serves the registry it is given, over real HTTP, behind the same token rule', async () => {
    const metrics = new Metrics({ processMetrics: false });
    metrics.counter('gridpulse_job_runs_total', 'runs', ['job_name', 'outcome']).inc({ job_name: 'forecasts', outcome: 'ok' });
    const server = await metricsServer(metrics, 'a-long-metrics-token');
    try {
      const url = `${await server.listen({ port: 0, host: '127.0.0.1' })}/metrics`;
      assert.equal((await fetch(url)).status, 401);
      const res = await fetch(url, { headers: { authorization: 'Bearer a-long-metrics-token' } });
      assert.equal(res.status, 200);
      assert.equal(value(parse(await res.text()), 'gridpulse_job_runs_total', { job_name: 'forecasts', outcome: 'ok' }), 1);
      assert.equal((await fetch(url.replace('/metrics', '/api/v1/now'))).status, 404, 'nothing else is served');
    } finally {
      await server.close();
    }
  });
});

describe('Metrics', () => {
  it('once: true the first time per registry and key, so a set-up that zeroes a histogram never resets what it observed', async () => {
    const a = new Metrics({ processMetrics: false });
    const b = new Metrics({ processMetrics: false });
    assert.deepEqual([once(a, 'k'), once(a, 'k'), once(a, 'other'), once(b, 'k')], [true, false, true, true]);
    const declare = (m: Metrics) => {
      const h = m.histogram('y_seconds', 'y', ['outcome']);
      if (once(m, 'y')) h.zero({ outcome: 'ok' });
      return h;
    };
    declare(a).observe({ outcome: 'ok' }, 0.2);
    declare(a);
    assert.match(await a.render(), /^y_seconds_count\{outcome="ok"\} 1$/m);
  });

  it('returns the registered metric for a known name and refuses a clash', () => {
    const m = new Metrics({ processMetrics: false });
    const a = m.counter('x_total', 'x', ['a']);
    assert.equal(m.counter('x_total', 'x', ['a']), a);
    assert.throws(() => m.counter('x_total', 'x', ['b']), /already a counter/);
    assert.throws(() => m.gauge('x_total', 'x', ['a']), /already a counter/);
  });

  it('compares the bearer token exactly', () => {
    const m = new Metrics({ processMetrics: false });
    assert.equal(m.authorized(undefined), true);
    m.protect('a-long-metrics-token');
    assert.equal(m.isProtected, true);
    for (const h of [undefined, '', 'a-long-metrics-token', 'Bearer a-long-metrics-toke', 'Bearer a-long-metrics-token-x', 'Basic a-long-metrics-token']) assert.equal(m.authorized(h), false, String(h));
    assert.equal(m.authorized('Bearer a-long-metrics-token'), true);
    assert.equal(m.authorized('bearer   a-long-metrics-token '), true);
  });
});
