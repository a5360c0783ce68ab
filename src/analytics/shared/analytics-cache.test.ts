import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryCache, redisCache, type Cache } from '../../platform/cache.ts';
import { openDb } from '../../platform/db.ts';
import { testDatabases } from '../../../test/support/databases.ts';
import { Metrics, attachMetrics } from '../../platform/metrics.ts';
import { analyticsKey, cachedAnswer, dataTtlSeconds, invalidateBa, notifyAnswersChanged, parseHoursPayload, subscribeInvalidation } from './analytics-cache.ts';

const targets: Array<{ name: string; open: () => Promise<Cache> }> = [{ name: 'memory', open: async () => memoryCache() }];
const url = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;
if (url) targets.push({ name: 'redis', open: () => redisCache(url, { namespace: `gptest:${process.pid}:${Math.random().toString(36).slice(2, 6)}:` }) });

/** A compute function that counts its calls and returns { n }. */
function counter() {
  let calls = 0;
  return { fn: async () => ({ n: ++calls }), calls: () => calls };
}

for (const t of targets) {
  describe(`cachedAnswer on ${t.name}`, () => {
    const caches: Cache[] = [];
    const open = async () => { const c = await t.open(); caches.push(c); return c; };
    after(async () => { for (const c of caches) await c.close(); });

    it('computes once while fresh and shares concurrent misses', async () => {
      const cache = await open();
      const c = counter();
      const key = analyticsKey('CISO', 'now');
      const [a, b] = await Promise.all([cachedAnswer(cache, key, 60, c.fn), cachedAnswer(cache, key, 60, c.fn)]);
      assert.deepEqual(a, { n: 1, stale: false });
      assert.deepEqual(b, { n: 1, stale: false });
      assert.deepEqual(await cachedAnswer(cache, key, 60, c.fn), { n: 1, stale: false });
      assert.equal(c.calls(), 1);
    });

    it('serves an expired answer at once and revalidates in the background', async () => {
      const cache = await open();
      const c = counter();
      let now = 1_000_000;
      const opts = { now: () => now };
      const key = analyticsKey('PJM', 'swr');
      await cachedAnswer(cache, key, 60, c.fn, opts);
      now += 61_000;
      assert.deepEqual(await cachedAnswer(cache, key, 60, c.fn, opts), { n: 1, stale: false });
      await sleep(50);
      assert.equal(c.calls(), 2);
      assert.deepEqual(await cachedAnswer(cache, key, 60, c.fn, opts), { n: 2, stale: false });
    });

    it('derives the TTL from the answer', async () => {
      const cache = await open();
      let now = 0;
      const c = counter();
      const key = analyticsKey('ERCO', 'ttl');
      await cachedAnswer(cache, key, (v) => (v.n === 1 ? 5 : 3600), c.fn, { now: () => now });
      now = 6_000;
      await cachedAnswer(cache, key, 60, c.fn, { now: () => now });
      await sleep(50);
      assert.equal(c.calls(), 2);
    });

    it('serves the last good answer with stale=true when the database is down, even after invalidation', async () => {
      const cache = await open();
      const db = await openDb({ dataDir: ':memory:' });
      const compute = async () => ({ value: (await db.query<{ v: number }>('SELECT 42 AS v'))[0]!.v });
      const key = analyticsKey('MISO', 'intensity', 'x');
      assert.deepEqual(await cachedAnswer(cache, key, 60, compute), { value: 42, stale: false });
      await db.close();
      assert.ok(await invalidateBa(cache, 'MISO') >= 1);
      assert.deepEqual(await cachedAnswer(cache, key, 60, compute), { value: 42, stale: true });
      await assert.rejects(cachedAnswer(cache, analyticsKey('MISO', 'never-computed'), 60, compute));
    });

    it('counts one outcome per answer (hit, miss, revalidate, stale, error) when the cache has metrics', async () => {
      const cache = await open();
      const metrics = new Metrics({ processMetrics: false });
      attachMetrics(metrics, cache);
      let now = 1_000_000;
      let down = false;
      const compute = async () => { if (down) throw new Error('database down'); return { v: 1 }; };
      const opts = { now: () => now };
      const key = analyticsKey('BPAT', 'metrics');
      await cachedAnswer(cache, key, 60, compute, opts); // miss
      await cachedAnswer(cache, key, 60, compute, opts); // hit
      now += 61_000;
      await cachedAnswer(cache, key, 60, compute, opts); // revalidate
      await sleep(50);
      down = true;
      await invalidateBa(cache, 'BPAT');
      assert.deepEqual(await cachedAnswer(cache, key, 60, compute, opts), { v: 1, stale: true }); // failed: stale
      await assert.rejects(cachedAnswer(cache, analyticsKey('BPAT', 'never-computed'), 60, compute, opts), /database down/); // error
      const counts = Object.fromEntries((await metrics.registry.getSingleMetric('gridpulse_analytics_cache_requests_total')!.get()).values.map((x) => [x.labels.outcome, x.value]));
      // one outcome per answer: five answers asked for, five counted
      assert.deepEqual(counts, { miss: 1, hit: 1, revalidate: 1, stale: 1, error: 1 });
    });

    it('invalidates one BA and the all-BA answers, not other BAs', async () => {
      const cache = await open();
      await cache.set(analyticsKey('CISO', 'a'), 1, 60);
      await cache.set(analyticsKey('ALL', 'now'), 1, 60);
      await cache.set(analyticsKey('PJM', 'a'), 1, 60);
      assert.equal(await invalidateBa(cache, 'CISO'), 2);
      assert.equal(await cache.get(analyticsKey('PJM', 'a')), 1);
    });
  });
}

describe('cachedAnswer with a failing cache', () => {
  it('computes anyway when the cache throws, and writes no log line per request (the cache tells its outage once)', async () => {
    const broken: Cache = {
      kind: 'redis', get: async () => { throw new Error('down'); }, set: async () => { throw new Error('down'); },
      invalidatePrefix: async () => 0, close: async () => {},
    };
    const warnings: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await cachedAnswer(broken, analyticsKey('CISO', 'x'), 60, async () => ({ ok: true }), { logger: { warn: (o: unknown) => { warnings.push(o); } } });
      assert.deepEqual(r, { ok: true, stale: false });
    }
    assert.deepEqual(warnings, []);
  });
});

describe('dataTtlSeconds', () => {
  const now = Date.parse('2025-08-01T17:20:00Z');
  it('lasts until the next hour is expected, within [60 s, 1 h]', () => {
    // newest 16:00 → 17:00 hour expected at 18:00 + 60 min lag = 19:00 → capped at 3600
    assert.equal(dataTtlSeconds({ dataThrough: '2025-08-01T16:00:00Z', now }), 3600);
    // newest 15:00 → expected 18:00 → 40 min
    assert.equal(dataTtlSeconds({ dataThrough: '2025-08-01T15:00:00Z', now }), 2400);
    // long overdue → retry in a minute
    assert.equal(dataTtlSeconds({ dataThrough: '2025-07-30T00:00:00Z', now }), 60);
    assert.equal(dataTtlSeconds({ dataThrough: null, now }), 300);
  });
  it('keeps a settled past range for a day', () => {
    assert.equal(dataTtlSeconds({ dataThrough: '2025-07-01T00:00:00Z', to: new Date('2025-07-01T00:00:00Z'), now }), 86_400);
  });
});

describe('parseHoursPayload', () => {
  it('accepts the contract payload and rejects anything else', () => {
    assert.deepEqual(parseHoursPayload('{"bas":["CISO","PJM"],"newest":"2025-08-01T17:00:00.000Z","source":"eia"}'), ['CISO', 'PJM']);
    for (const bad of ['nope', '{}', '{"bas":"CISO"}', '{"bas":["ci so"]}']) assert.equal(parseHoursPayload(bad), undefined, bad);
  });
});

for (const target of testDatabases()) {
  describe(`subscribeInvalidation on ${target.name}`, () => {
    it('drops the cached answers of the BAs named in a committed change event', async () => {
      const db = await target.open();
      const cache = memoryCache();
      const heard: string[][] = [];
      const unlisten = await subscribeInvalidation(db, cache, undefined, (bas) => heard.push(bas));
      try {
        await cache.set(analyticsKey('CISO', 'now'), 1, 60);
        await cache.set(analyticsKey('PJM', 'now'), 1, 60);
        await db.query(`SELECT pg_notify('gridpulse_hours', 'garbage')`);
        await db.transaction(async (tx) => { await tx.query(`SELECT pg_notify('gridpulse_hours', $1)`, [JSON.stringify({ bas: ['CISO'], newest: '2025-08-01T17:00:00.000Z', source: 'eia' })]); });
        for (let i = 0; i < 100 && heard.length === 0; i++) await sleep(20);
        assert.deepEqual(heard, [['CISO']]);
        assert.equal(await cache.get(analyticsKey('CISO', 'now')), undefined);
        assert.equal(await cache.get(analyticsKey('PJM', 'now')), 1);
        await notifyAnswersChanged(db, ['PJM']);
        for (let i = 0; i < 100 && heard.length === 1; i++) await sleep(20);
        assert.deepEqual(heard, [['CISO'], ['PJM']], 'answers changed without new hours (a forecast refresh elsewhere)');
        assert.equal(await cache.get(analyticsKey('PJM', 'now')), undefined);
      } finally {
        await unlisten();
        await db.close();
      }
    });
  });
}
