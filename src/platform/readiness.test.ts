import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { coreReadiness, Readiness } from './readiness.ts';
import { Metrics } from './metrics.ts';
import { metricsServer } from './http.ts';
import { memoryCache, redisCache } from './cache.ts';
import { openDb } from './db.ts';
import { migrate } from './migrate.ts';
import { buildApp } from '../app.ts';
import { addWorkerChecks } from '../ingest/worker-readiness.ts';
import { eiaMetrics } from '../ingest/eia-client.ts';
import { freshnessMetrics } from '../ingest/pipeline-freshness.ts';
import { loadSimulatedGrid } from '../ingest/simulated-grid.ts';
import { listBas } from '../grid/ba-repository.ts';
import { TcpProxy } from '../../test/support/tcp-proxy.ts';

const silent = pino({ level: 'silent' });

/** Whether something accepts TCP connections at host:port. */
const reachable = (port: number, host = '127.0.0.1') => new Promise<boolean>((resolve) => {
  const s = net.connect({ host, port }, () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

describe('readiness registry', () => {
  it('ready when every check passes; degraded names a failing optional check; not_ready names the critical one first', async () => {
    const metrics = new Metrics({ processMetrics: false });
    let dbUp = true;
    let cacheUp = true;
    const r = new Readiness('web', metrics, { database: 'postgres' })
      .add('database', async () => { if (!dbUp) throw new Error('connection refused'); })
      .add('cache', async () => (cacheUp ? undefined : { degraded: 'redis unreachable' }), { critical: false });
    assert.deepEqual({ ...(await r.report()), checks: undefined }, { database: 'postgres', status: 'ready', role: 'web', checks: undefined, failed: [] });
    cacheUp = false;
    let rep = await r.report();
    assert.equal(rep.status, 'degraded');
    assert.deepEqual(rep.failed, ['cache']);
    assert.equal(rep.checks.cache!.detail, 'redis unreachable');
    dbUp = false;
    rep = await r.report();
    assert.equal(rep.status, 'not_ready');
    assert.deepEqual(rep.failed, ['database', 'cache']);
    assert.equal(rep.checks.database!.detail, 'connection refused');
    const text = await metrics.render();
    assert.match(text, /gridpulse_dependency_up\{dependency="database"\} 0/);
    assert.match(text, /gridpulse_dependency_up\{dependency="cache"\} 0.5/);
  });

  it('a scrape alone sets gridpulse_dependency_up (Prometheus never calls /readyz), with the state at that scrape', async () => {
    const metrics = new Metrics({ processMetrics: false });
    let replicaUp = false;
    new Readiness('web', metrics)
      .add('database', async () => {})
      .add('replica', async () => (replicaUp ? undefined : { degraded: 'reads go to the primary' }), { critical: false });
    let text = await metrics.render();
    assert.match(text, /gridpulse_dependency_up\{dependency="database"\} 1/);
    assert.match(text, /gridpulse_dependency_up\{dependency="replica"\} 0.5/);
    replicaUp = true;
    text = await metrics.render();
    assert.match(text, /gridpulse_dependency_up\{dependency="replica"\} 1/);
  });

  it('a check that hangs fails after its timeout instead of holding /readyz', async () => {
    const r = new Readiness('worker').add('broker', () => new Promise(() => {}), { timeoutMs: 50 });
    const started = performance.now();
    const rep = await r.report();
    assert.ok(performance.now() - started < 1000);
    assert.equal(rep.status, 'not_ready');
    assert.match(rep.checks.broker!.detail!, /no answer within 50 ms/);
  });

  /** A web app on PGlite whose Redis is reached through a TCP proxy (in `mode` at the start), for the cache's outages. */
  async function webBehindRedisProxy(t: TestContext, mode: 'pass' | 'reset', namespace: string, fn: (app: FastifyInstance, proxy: TcpProxy) => Promise<void>): Promise<void> {
    if (!await reachable(6379)) {
      if (process.env.CI) assert.fail('no Redis at 127.0.0.1:6379');
      t.skip('no Redis at 127.0.0.1:6379');
      return;
    }
    const proxy = new TcpProxy({ host: '127.0.0.1', port: 6379 });
    proxy.mode = mode;
    const port = await proxy.start();
    const db = await openDb({ dataDir: ':memory:' });
    await migrate(db);
    const cache = await redisCache(`redis://127.0.0.1:${port}/7`, { namespace: `gp:${namespace}:${process.pid}:` });
    const app = await buildApp({ db, logger: silent, cache });
    try { await fn(app, proxy); } finally { await app.close(); await cache.close().catch(() => {}); await db.close(); await proxy.stop(); }
  }

  it('web: Redis cut away reports the cache degraded (200) and GETs still answer; back, ready again', (t) => webBehindRedisProxy(t, 'pass', 'readyz', async (app, proxy) => {
    let res = await app.inject('/readyz');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'ready');
    proxy.mode = 'reset';
    proxy.cut();
    res = await app.inject('/readyz');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'degraded');
    assert.deepEqual(res.json().failed, ['cache']);
    assert.match(res.json().checks.cache.detail, /redis unreachable/);
    assert.equal((await app.inject('/api/v1/bas')).statusCode, 200);
    proxy.mode = 'pass';
    for (let i = 0; i < 50 && (await app.inject('/readyz')).json().status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await app.inject('/readyz')).json().status, 'ready');
  }));

  it('web: Redis unreachable at start starts anyway with the cache degraded (as when it goes down later); back, ready again', (t) => webBehindRedisProxy(t, 'reset', 'readyz-start', async (app, proxy) => {
    let res = await app.inject('/readyz');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'degraded');
    assert.deepEqual(res.json().failed, ['cache']);
    assert.equal((await app.inject('/api/v1/bas')).statusCode, 200, 'GETs answer uncached');
    proxy.mode = 'pass';
    for (let i = 0; i < 50 && (await app.inject('/readyz')).json().status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 100));
    res = await app.inject('/readyz');
    assert.equal(res.json().status, 'ready', 'ioredis kept reconnecting: the cache serves once Redis answers');
  }));

  it('web on PostgreSQL: the database cut away is 503 naming it; back, ready again', async (t) => {
    const url = process.env.DATABASE_URL;
    if (!url) {
      if (process.env.CI) assert.fail('DATABASE_URL is required under CI=true (.ci/run sets it)');
      t.skip('DATABASE_URL not set'); return;
    }
    const u = new URL(url);
    const proxy = new TcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.host = `127.0.0.1:${await proxy.start()}`;
    const db = await openDb({ databaseUrl: u.toString(), dataDir: ':memory:' });
    await migrate(db);
    const app = await buildApp({ db, logger: silent, cache: memoryCache() });
    try {
      assert.equal((await app.inject('/readyz')).statusCode, 200);
      proxy.mode = 'reset';
      proxy.cut();
      const res = await app.inject('/readyz');
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().status, 'not_ready');
      assert.equal(res.json().failed[0], 'database');
      assert.equal(res.headers['content-type']?.startsWith('application/json'), true);
      // back: ready again once postgres.js reconnects (closing while it reconnects its LISTEN connection would hang)
      proxy.mode = 'pass';
      for (let i = 0; i < 50 && (await app.inject('/readyz')).statusCode !== 200; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal((await app.inject('/readyz')).statusCode, 200);
    } finally { proxy.mode = 'pass'; await app.close(); await db.close(); await proxy.stop(); }
  });

  it('worker: /readyz on the metrics server reports a failed job and an open EIA breaker as degraded', async () => {
    const db = await openDb({ dataDir: ':memory:' });
    await migrate(db);
    const metrics = new Metrics({ processMetrics: false });
    const lastRuns = new Map([['hourly-ingest', { outcome: 'ok', at: new Date() }]]);
    const readiness = addWorkerChecks(coreReadiness('worker', db, memoryCache(), metrics), lastRuns, metrics);
    const server = await metricsServer(metrics, undefined, readiness);
    try {
      assert.equal((await server.inject('/healthz')).statusCode, 200);
      let res = await server.inject('/readyz');
      assert.deepEqual([res.statusCode, res.json().status, res.json().role], [200, 'ready', 'worker']);
      lastRuns.set('forecasts', { outcome: 'failed', at: new Date('2026-11-30T10:40:00Z') });
      eiaMetrics(metrics).breakerOpen.set(1);
      res = await server.inject('/readyz');
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().status, 'degraded');
      assert.deepEqual(res.json().failed.sort(), ['eia', 'jobs']);
      assert.match(res.json().checks.jobs.detail, /forecasts at 2026-11-30T10:40:00.000Z/);
      assert.match(await (await server.inject('/metrics')).body, /gridpulse_dependency_up\{dependency="eia"\} 0.5/);
    } finally { await server.close(); await db.close(); }
  });
});

describe('metrics collectors', () => {
  it('refresh gauges at each scrape: data freshness by route; a failing collector is counted, the scrape still answers', async () => {
    const db = await openDb({ dataDir: ':memory:' });
    await migrate(db);
    try {
      const metrics = new Metrics({ processMetrics: false });
      freshnessMetrics(metrics, db);
      metrics.addCollector('broken', async () => { throw new Error('store down'); });
      const bas = (await listBas(db)).filter((b) => ['CISO', 'ERCO'].includes(b.code));
      const hours = 6;
      const from = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - (hours + 30) * 3_600_000);
      await loadSimulatedGrid({ db, logger: silent }, bas, from, hours);
      const text = await metrics.render();
      const lag = Number(/gridpulse_data_freshest_lag_minutes\{route="region"\} (\d+)/.exec(text)?.[1]);
      // the newest hour ends at from + hours: 30 h (1800 min) before the current hour began
      assert.ok(lag >= 1800 && lag <= 1861, `lag ${lag}`);
      assert.match(text, /gridpulse_data_stale_series\{route="region"\} [1-9]/);
      assert.match(text, /gridpulse_metrics_collector_failures_total\{collector="broken"\} 1/);
    } finally { await db.close(); }
  });

  it('a collector that cannot read its store leaves its gauges absent, not their last values', async () => {
    const db = await openDb({ dataDir: ':memory:' });
    await migrate(db);
    const metrics = new Metrics({ processMetrics: false });
    freshnessMetrics(metrics, db);
    const bas = (await listBas(db)).filter((b) => b.code === 'CISO');
    await loadSimulatedGrid({ db, logger: silent }, bas, new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000), 3);
    assert.match(await metrics.render(), /^gridpulse_data_freshest_lag_minutes\{route="region"\} \d+/m);
    await db.close();
    const text = await metrics.render();
    assert.doesNotMatch(text, /^gridpulse_data_(freshest_lag_minutes|stale_series)\{/m, 'no stale lag from before the outage');
    assert.match(text, /gridpulse_metrics_collector_failures_total\{collector="data-freshness"\} 1/);
  });
});
