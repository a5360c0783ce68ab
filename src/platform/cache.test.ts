import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { memoryCache, redisCache, type Cache } from './cache.ts';

const targets: Array<{ name: string; open: () => Promise<Cache> }> = [{ name: 'memory', open: async () => memoryCache() }];
const url = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL;
if (url) targets.push({ name: 'redis', open: () => redisCache(url, `gptest:${process.pid}:`) });

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
