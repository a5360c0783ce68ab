import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { pino } from 'pino';
import { openDb } from '../src/platform/db.ts';
import { migrate } from '../src/platform/migrate.ts';
import { memoryCache, redisCache } from '../src/platform/cache.ts';
import { Metrics } from '../src/platform/metrics.ts';
import { buildApp } from '../src/app.ts';
import { createApiKey } from '../src/auth/api-keys.ts';
import { EiaClient, EiaError } from '../src/ingest/eia-client.ts';
import { FakeEia, regionRows } from './support/fake-eia-server.ts';
import { TcpProxy } from './support/tcp-proxy.ts';
import { freePort, PgCluster, pgBinariesPresent } from './support/pg-cluster.ts';

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const H = (h: number) => new Date(Date.parse('2025-08-01T00:00Z') + h * 3_600_000).toISOString();
/** How long Redis stays down (the 60 s; REDIS_OUTAGE_MS shortens it for a quick local run). */
const REDIS_OUTAGE_MS = Number(process.env.REDIS_OUTAGE_MS ?? 60_000);

describe('fault injection', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  after(async () => { for (const c of cleanup.reverse()) await c().catch(() => {}); });

  it('PostgreSQL restarted (crash) during ingestion through the data API: 0 acknowledged rows lost or doubled', {
    skip: !pgBinariesPresent() && !process.env.CI ? 'PostgreSQL server binaries not installed' : false,
    timeout: 90_000,
  }, async () => {
    const pg = await PgCluster.primary();
    cleanup.push(() => pg.destroy());
    const db = await openDb({ databaseUrl: pg.url, dataDir: ':memory:' });
    cleanup.push(() => db.close());
    await migrate(db);
    const app = await buildApp({ db, logger: silent, cache: memoryCache() });
    cleanup.push(() => app.close());
    const { token } = await createApiKey(db, { kind: 'worker', name: 'fault-test' });
    const batches = 40;
    const statuses = new Map<number, number>();
    const acked = new Set<string>();
    let restart: Promise<void> | undefined;
    for (let b = 0; b < batches; b++) {
      const rows = Array.from({ length: 24 }, (_, k) => ({ ba: 'CISO', type: 'demand', ts: H(b * 24 + k), value: b * 1000 + k }));
      if (b === 10) { restart = pg.stop('immediate').then(() => sleep(500)).then(() => pg.start()); restart.catch(() => {}); }
      // a client retries a batch until it is acknowledged, as the off-site worker's spool does
      for (let attempt = 0; ; attempt++) {
        const res = await app.inject({ method: 'POST', url: '/api/v1/data/observations', headers: { authorization: `Bearer ${token}` }, payload: { rows } });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode === 200) {
          assert.equal(res.json().accepted, 24);
          for (const r of rows) acked.add(r.ts);
          break;
        }
        assert.ok(attempt < 200, `batch ${b} never acknowledged (last ${res.statusCode})`);
        await sleep(100);
      }
    }
    await Promise.race([restart, new Promise((_, reject) => setTimeout(() => reject(new Error('PostgreSQL did not restart within 60 s')), 60_000).unref())]);
    assert.ok([...statuses.keys()].some((s) => s !== 200), `the restart was seen by some request: ${JSON.stringify([...statuses])}`);
    const [row] = await db.query<{ n: string; distinct_ts: string; wrong: string }>(
      `SELECT count(*)::text AS n, count(DISTINCT o.ts)::text AS distinct_ts,
              count(*) FILTER (WHERE o.value <> ((extract(epoch FROM o.ts - '2025-08-01'::timestamptz) / 3600)::int / 24) * 1000 + (extract(epoch FROM o.ts - '2025-08-01'::timestamptz) / 3600)::int % 24)::text AS wrong
       FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'CISO.demand'`);
    assert.equal(acked.size, batches * 24);
    assert.deepEqual({ ...row }, { n: String(acked.size), distinct_ts: String(acked.size), wrong: '0' });
  });

  it(`Redis down ${REDIS_OUTAGE_MS / 1000} s: 0 5xx on GET, the cache reported degraded, ready again when it is back`, { timeout: REDIS_OUTAGE_MS + 90_000 }, async (t) => {
    const port = await freePort();
    const startRedis = async (): Promise<ChildProcess | undefined> => {
      const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
      const ok = await Promise.race([
        new Promise<boolean>((resolve) => { p.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('Ready to accept')) resolve(true); }); }),
        once(p, 'error').then(() => false), once(p, 'exit').then(() => false),
      ]);
      return ok ? p : undefined;
    };
    let redis = await startRedis();
    if (!redis) {
      if (process.env.CI) assert.fail('redis-server could not start');
      t.skip('redis-server not installed');
      return;
    }
    cleanup.push(async () => { redis?.kill('SIGKILL'); });
    const db = await openDb({ dataDir: ':memory:' });
    cleanup.push(() => db.close());
    await migrate(db);
    const url = `redis://127.0.0.1:${port}/0`;
    const cache = await redisCache(url);
    const app = await buildApp({ db, logger: silent, cache, rateLimits: { read: { max: 100_000, windowMs: 60_000 }, write: { max: 1000, windowMs: 60_000 }, auth: { max: 100, windowMs: 60_000 }, redisUrl: url } });
    cleanup.push(() => app.close());
    const paths = ['/api/v1/bas', '/api/v1/bas/CISO/freshness', '/healthz'];
    const seen = new Map<number, number>();
    const hit = async () => {
      for (const p of paths) { const s = (await app.inject(p)).statusCode; seen.set(s, (seen.get(s) ?? 0) + 1); }
    };
    await hit();
    redis.kill('SIGKILL');
    await once(redis, 'exit');
    const until = Date.now() + REDIS_OUTAGE_MS;
    let degraded = 0;
    while (Date.now() < until) {
      await hit();
      if ((await app.inject('/readyz')).json().status === 'degraded') degraded++;
      await sleep(250);
    }
    redis = await startRedis();
    assert.ok(redis, 'redis restarted');
    for (let i = 0; i < 100 && (await app.inject('/readyz')).json().status !== 'ready'; i++) await sleep(100);
    assert.equal((await app.inject('/readyz')).json().status, 'ready');
    await hit();
    await cache.close();
    const fivexx = [...seen].filter(([s]) => s >= 500);
    assert.deepEqual(fivexx, [], `statuses: ${JSON.stringify([...seen])}`);
    assert.ok(degraded > 0, '/readyz reported degraded while Redis was down');
  });

  it('EIA slow and flapping: the breaker opens (the alert expression max by (instance) (gridpulse_eia_circuit_open) == 1 holds) and recovers', { timeout: 60_000 }, async () => {
    const eia = new FakeEia();
    const base = new URL(await eia.start());
    cleanup.push(() => eia.stop());
    eia.rows.region = regionRows('CISO', new Date('2026-01-01T01:00Z'), 3, () => '100');
    const proxy = new TcpProxy({ host: base.hostname, port: Number(base.port) });
    base.port = String(await proxy.start());
    cleanup.push(() => proxy.stop());
    const metrics = new Metrics({ processMetrics: false });
    const client = new EiaClient({ baseUrl: base.toString(), apiKey: 'test-key-123', logger: silent, metrics, minIntervalMs: 0, timeoutMs: 300, retries: 0, breakerThreshold: 4, breakerCooldownMs: 1500, readRetries: 0 });
    const read = async () => {
      try {
        for await (const page of client.fetch('region', { bas: ['CISO'], from: new Date('2026-01-01T00:00Z'), to: new Date('2026-01-01T02:00Z') })) assert.ok(page.length);
        return 'ok';
      } catch (err) { assert.ok(err instanceof EiaError); return (err as Error).message.includes('circuit open') ? 'rejected' : 'failed'; }
    };
    const breaker = async () => Number(/^gridpulse_eia_circuit_open (\d)/m.exec(await metrics.render())?.[1]);
    assert.equal(await read(), 'ok');
    // slow (answers after the client's timeout) and flapping (500, ok, 500, …; a slow ok still times out)
    proxy.latencyMs = 400;
    eia.faults = ['500', 'ok', '500', 'ok', '500', 'ok'];
    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) outcomes.push(await read());
    assert.ok(outcomes.includes('rejected'), `the breaker opened: ${outcomes.join(',')}`);
    assert.equal(await breaker(), 1, 'the alert expression holds');
    assert.match(await metrics.render(), /gridpulse_eia_circuit_opened_total 1/);
    // EIA healthy again: after the cooldown a request goes through and the breaker closes
    proxy.latencyMs = 0;
    eia.faults = [];
    assert.equal(await read(), 'rejected', 'still open within the cooldown');
    await sleep(1600);
    assert.equal(await read(), 'ok');
    assert.equal(await breaker(), 0, 'recovered: the alert resolves');
  });
});
