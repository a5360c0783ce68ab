import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.ts';
import { buildApp } from '../../src/app.ts';
import { memoryCache } from '../../src/platform/cache.ts';
import { migrate } from '../../src/platform/migrate.ts';
import type { Db } from '../../src/platform/db.ts';

const setCookies = (res: { headers: Record<string, unknown> }) => ([] as string[]).concat((res.headers['set-cookie'] as string | string[] | undefined) ?? []);

for (const target of testDatabases()) {
  describe(`the anti-forgery cookie follows the session cookie's Secure rule on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => {
      db = await target.open();
      await migrate(db);
      app = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache(), trustProxy: ['10.0.0.1'] });
    });
    after(async () => { await app.close(); await db.close(); });

    it('over HTTPS (through a trusted proxy) it is __Host-gp_csrf, Secure, host-only; over HTTP, or a forged X-Forwarded-Proto, plain gp_csrf', async () => {
      const https = await app.inject({ url: '/signin', remoteAddress: '10.0.0.1', headers: { 'x-forwarded-proto': 'https' } });
      const secure = setCookies(https).find((c) => c.startsWith('__Host-gp_csrf='));
      assert.ok(secure, `a __Host- cookie: ${setCookies(https).join(' | ')}`);
      assert.match(secure, /; Secure/);
      assert.match(secure, /; Path=\//);
      assert.doesNotMatch(secure, /Domain=/i);
      const token = secure.split(';')[0]!.slice('__Host-gp_csrf='.length);
      assert.match(https.body, new RegExp(`name="csrf" value="${token}"`), 'the page renders the cookie\'s token');
      // an HTTPS page does not take a plain (plantable) gp_csrf cookie as its token
      const planted = await app.inject({ url: '/signin', remoteAddress: '10.0.0.1', headers: { 'x-forwarded-proto': 'https', cookie: `gp_csrf=${'a'.repeat(43)}` } });
      assert.doesNotMatch(planted.body, new RegExp(`value="${'a'.repeat(43)}"`));
      assert.ok(setCookies(planted).some((c) => c.startsWith('__Host-gp_csrf=')));
      for (const res of [await app.inject({ url: '/signin' }), await app.inject({ url: '/signin', remoteAddress: '203.0.113.5', headers: { 'x-forwarded-proto': 'https' } })]) {
        const plain = setCookies(res).find((c) => c.startsWith('gp_csrf='));
        assert.ok(plain);
        assert.doesNotMatch(plain, /Secure/);
      }
    });
  });
}
