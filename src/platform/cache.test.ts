import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryCache, redisCache, type Cache } from './cache.ts';

const targets: Array<{ name: string; open: () => Promise<Cache> }> = [{ name: 'memory', open: async () => memoryCache() }];
const url = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;
if (url) targets.push({ name: 'redis', open: () => redisCache(url, { namespace: `gptest:${process.pid}:` }) });

for (const t of targets) {
  describe(`cache on ${t.name}`, () => {
    let cache: Cache;
    after(async () => { await cache.close(); });

    it('round-trips JSON, expires by TTL and invalidates by prefix only', async () => {
      cache = await t.open();
      await cache.set('ba:CISO:now', { g: 212, mix: [1, 2] }, 60);
      await cache.set('ba:CISO:pulse', 1, 60);
      await cache.set('ba:PJM:now', 2, 60);
      assert.deepEqual(await cache.get('ba:CISO:now'), { g: 212, mix: [1, 2] });
      assert.equal(await cache.invalidatePrefix('ba:CISO:'), 2);
      assert.equal(await cache.get('ba:CISO:now'), undefined);
      assert.equal(await cache.get('ba:PJM:now'), 2);
      await cache.set('short', 'x', 1);
      await sleep(1200);
      assert.equal(await cache.get('short'), undefined);
    });
  });
}

describe('Redis cache outage', { skip: url || process.env.CI ? false : 'needs REDIS_URL (or TEST_REDIS_URL; under CI=true it fails without): the outage is cut in a TCP proxy in front of it' }, () => {
  it('tells an outage once (not per request) and its end once, and counts every failed command', { timeout: 30_000 }, async () => {
    const { TcpProxy } = await import('../../test/support/tcp-proxy.ts');
    const { Metrics, attachMetrics } = await import('./metrics.ts');
    const target = new URL(url!);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const port = await proxy.start();
    const lines: Array<{ level: 'warn' | 'info'; msg: string }> = [];
    const logger = { warn: (_o: unknown, msg?: string) => { lines.push({ level: 'warn', msg: msg ?? '' }); }, info: (o: unknown, msg?: string) => { lines.push({ level: 'info', msg: msg ?? String(o) }); } };
    const proxied = new URL(url!);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(port);
    const cache = await redisCache(proxied.toString(), { namespace: `gptest:outage:${process.pid}:`, logger });
    const metrics = new Metrics({ processMetrics: false });
    attachMetrics(metrics, cache);
    const errors = async () => (await metrics.registry.getSingleMetric('gridpulse_cache_errors_total')?.get())?.values.reduce((n, v) => n + v.value, 0) ?? 0;
    try {
      await cache.set('k', 1, 60);
      assert.equal(await cache.get('k'), 1);
      proxy.mode = 'reset';
      proxy.cut();
      await sleep(100);
      for (let i = 0; i < 20; i++) {
        await assert.rejects(cache.get('k'));
        await assert.rejects(cache.set('k', 2, 60));
      }
      assert.deepEqual(lines.map((l) => l.level), ['warn'], `one line for the outage, not one per command: ${JSON.stringify(lines)}`);
      assert.equal(await errors(), 40, 'each failed command counted');
      proxy.mode = 'pass';
      const deadline = Date.now() + 15_000;
      let answer: unknown;
      while (Date.now() < deadline) {
        answer = await cache.get('k').catch(() => 'down');
        if (answer !== 'down') break;
        await sleep(200);
      }
      assert.equal(answer, 1, 'Redis answers again through the proxy');
      await cache.get('k');
      assert.deepEqual(lines.map((l) => l.level), ['warn', 'info'], 'the end of the outage told once');
      assert.match(lines[1]!.msg, /answers again/);
    } finally {
      await cache.close().catch(() => {});
      await proxy.stop();
    }
  });
});
