import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.ts';
import { memoryCache } from '../platform/cache.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { parseSessionIds } from './session-sync.ts';
import { testDatabases } from '../../test/support/databases.ts';
import { signIn } from '../../test/support/auth.ts';

describe('session change notices', () => {
  it('names session ids as a JSON array of UUIDs; anything else is refused', () => {
    const id = '0b6f1c2e-8a4d-4c3b-9f7e-2d1a5b6c7d8e';
    assert.deepEqual(parseSessionIds(JSON.stringify([id])), [id]);
    for (const bad of ['', 'null', '{"ids":[]}', '[1]', JSON.stringify(['auth:session:*']), '[', JSON.stringify([`${id}x`])]) assert.equal(parseSessionIds(bad), undefined, bad);
  });
});

for (const target of testDatabases()) {
  describe(`sessions across two apps with their own in-process caches on ${target.name}`, () => {
    let db: Db;
    let a: FastifyInstance;
    let b: FastifyInstance;
    before(async () => {
      db = await target.open();
      await migrate(db);
      // two web copies on one database, each with its own cache (no Redis)
      const open = () => buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache() });
      a = await open();
      b = await open();
    });
    after(async () => { await a.close(); await b.close(); await db.close(); });

    it('a sign-out through one app ends the sign-in on the other at once', async () => {
      const me = (app: FastifyInstance, headers: { authorization: string }) => app.inject({ url: '/api/v1/me', headers });
      const wait = async (app: FastifyInstance, headers: { authorization: string }) => {
        let status = 0;
        for (let i = 0; i < 50 && status !== 401; i++) {
          status = (await me(app, headers)).statusCode;
          if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return status;
      };
      const ann = await signIn(a, db, 'analyst');
      assert.equal((await me(b, ann.headers)).statusCode, 200, 'b has the session cached');
      assert.equal((await a.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: ann.headers })).statusCode, 204);
      assert.equal(await wait(b, ann.headers), 401);
    });
  });
}
