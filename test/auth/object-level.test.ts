import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.ts';
import { openTestApp } from '../support/app.ts';
import { signIn, type SignedIn } from '../support/auth.ts';
import { OWNED_OBJECTS, routeKey } from '../support/owned-objects.ts';
import { fillPath, routeCall, walkRoutes, type WalkedRoute } from '../support/route-walk.ts';
import type { Db } from '../../src/platform/db.ts';
import { USER_ROLES, type UserRole } from '../../src/auth/principal.ts';
import { judge } from '../../src/auth/access.ts';
import { ROLE_SCOPES } from '../../src/auth/scopes.ts';

const PROBLEM = /^application\/problem\+json/;

/** Every (method, route) of the API whose path carries an id, generated from the app's own route table. */
function routesWithIds(app: FastifyInstance): WalkedRoute[] {
  return walkRoutes(app).filter((r) => r.url.startsWith('/api/') && /:[A-Za-z]/.test(r.url));
}

for (const target of testDatabases()) {
  describe(`object-level access matrix on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    const users = new Map<UserRole, [SignedIn, SignedIn]>();

    before(async () => {
      ({ db, app } = await openTestApp(target));
      for (const role of USER_ROLES) users.set(role, [await signIn(app, db, role), await signIn(app, db, role)]);
    });
    after(async () => { await app.close(); await db.close(); });

    it('every route with an id in its path × every role × a second user of the same role: no foreign object readable or writable', async () => {
      const routes = routesWithIds(app);
      assert.ok(routes.some((r) => 'owner' in r.access && r.access.owner), 'owned routes are in the table');
      const missing = routes.filter((r) => 'owner' in r.access && r.access.owner && !OWNED_OBJECTS[routeKey(r.method, r.url)]).map((r) => routeKey(r.method, r.url));
      assert.deepEqual(missing, [], 'owned routes need a fixture in test/support/owned-objects.ts');
      let foreignTried = 0;
      let roleChecks = 0;
      for (const route of routes) {
        if ('public' in route.access) continue; // public reference data (BA codes, series ids): nobody owns it
        for (const role of USER_ROLES) {
          const [a, b] = users.get(role)!;
          const principal = { kind: 'user' as const, id: b.userId, userId: b.userId, role, scopes: ROLE_SCOPES[role] };
          const fixture = OWNED_OBJECTS[routeKey(route.method, route.url)];
          if (judge(route.access, principal) !== 'allow') {
            // a role the route does not admit: 403 whatever the id (the object is never looked up)
            const res = await app.inject(routeCall(route, { headers: b.headers, ...(fixture?.body ? { payload: fixture.body } : {}) }));
            assert.equal(res.statusCode, 403, `${role} ${route.method} ${route.url}: ${res.body}`);
            assert.match(res.headers['content-type'] as string, PROBLEM);
            roleChecks++;
            continue;
          }
          if (!fixture) continue; // admitted, not owned (an admin's users and invitations): the role is the rule
          const id = await fixture.create(app, a);
          const before = await fixture.snapshot(app, a, id);
          assert.ok(before, `${route.url}: the owner sees their new object`);
          const res = await app.inject({ method: route.method, url: fillPath(route.url, id), headers: b.headers, ...(fixture.body === undefined ? {} : { payload: fixture.body }) });
          assert.equal(res.statusCode, 404, `${role} B on A's ${route.method} ${route.url}: ${res.body}`);
          assert.match(res.headers['content-type'] as string, PROBLEM);
          assert.ok(!res.body.includes(a.email), 'nothing of the object is shown');
          assert.deepEqual(await fixture.snapshot(app, a, id), before, `${route.method} ${route.url}: A's object unchanged after B's attempt`);
          // and the owner can: the 404 above is about ownership, not a broken fixture
          const own = await app.inject({ method: route.method, url: fillPath(route.url, id), headers: a.headers, ...(fixture.body === undefined ? {} : { payload: fixture.body }) });
          assert.ok(own.statusCode < 300, `${role} A on own ${route.method} ${route.url}: ${own.statusCode} ${own.body}`);
          foreignTried++;
        }
      }
      assert.ok(foreignTried >= USER_ROLES.length * 2, `${foreignTried} foreign-object attempts`);
      assert.ok(roleChecks > 0, `${roleChecks} role refusals`);
    });
  });
}
