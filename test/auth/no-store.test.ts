import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.ts';
import { openTestApp } from '../support/app.ts';
import { signIn, type SignedIn } from '../support/auth.ts';
import { fillPath, routeCall, walkRoutes } from '../support/route-walk.ts';
import type { Db } from '../../src/platform/db.ts';
import { needsCredentials } from '../../src/auth/access.ts';

/** Server-sent event streams never end by themselves: their access is checked without credentials only. */
const STREAMS = new Set(['/api/v1/fleet/live']);

for (const target of testDatabases()) {
  describe(`answers of routes that need credentials are never stored by a cache on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let admin: SignedIn;
    before(async () => {
      ({ db, app } = await openTestApp(target));
      admin = await signIn(app, db, 'admin');
    });
    after(async () => { await app.close(); await db.close(); });

    it('every non-public route of the table answers Cache-Control: no-store, refused (401) and, for reads, admitted', async () => {
      const routes = walkRoutes(app).filter((r) => needsCredentials(r.access));
      assert.ok(routes.some((r) => r.url === '/api/v1/me') && routes.some((r) => r.url === '/api/v1/admin/audit'), 'the personal routes are in the table');
      let admitted = 0;
      for (const r of routes) {
        const anonymous = await app.inject(routeCall(r));
        assert.equal(anonymous.headers['cache-control'], 'no-store', `${r.method} ${r.url} refused (${anonymous.statusCode})`);
        if (r.method !== 'GET' || STREAMS.has(r.url)) continue;
        const res = await app.inject({ method: 'GET', url: fillPath(r.url), headers: admin.headers });
        assert.equal(res.headers['cache-control'], 'no-store', `${r.method} ${r.url} as admin (${res.statusCode})`);
        if (res.statusCode === 200) admitted++;
      }
      assert.ok(admitted >= 4, `admitted reads checked: ${admitted}`);
    });

    it('a signed-in user\'s keys list is no-store, and public reads are left cacheable', async () => {
      const me = await app.inject({ url: '/api/v1/me/keys', headers: admin.headers });
      assert.equal(me.statusCode, 200);
      assert.equal(me.headers['cache-control'], 'no-store');
      const bas = await app.inject({ url: '/api/v1/bas' });
      assert.equal(bas.statusCode, 200);
      assert.notEqual(bas.headers['cache-control'], 'no-store', 'public reference data keeps its caching');
    });
  });
}
