import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.ts';
import { openTestApp } from '../support/app.ts';
import { signIn } from '../support/auth.ts';
import { formCredentials, sessionCsrf } from '../support/form-post.ts';
import { needs, WEB_BUILD } from './support/availability.ts';
import type { Db } from '../../src/platform/db.ts';
import type { UserRole } from '../../src/auth/principal.ts';
import { pageProblemDetail } from '../../src/web/app/lib/page-problem.ts';

const ROLES: readonly UserRole[] = ['admin', 'operator', 'analyst', 'viewer'];
/** Paths that are personal or privileged by their name: each must declare `access` (a new one that forgets fails here). */
const PERSONAL = /^(account|admin)(\/|$)|(^|\/)upload(s)?$/;

interface BuiltRoute { path?: string; module: { access?: 'signed-in' | readonly UserRole[] } }

/** The site's routes as built from src/web/app/routes.ts, with the `access` each module declares. */
async function builtRoutes(): Promise<Array<{ path: string; access: BuiltRoute['module']['access'] }>> {
  const build = await import(WEB_BUILD) as { routes: Record<string, BuiltRoute> };
  return Object.values(build.routes).filter((r) => r.path && r.path !== '*').map((r) => ({ path: r.path!, access: r.module.access }));
}

/** The pages that need a signed-in user: those declaring access, and those personal by name (at least 'signed-in' even if they forgot). */
async function guardedPages(): Promise<Array<{ path: string; access: 'signed-in' | readonly UserRole[] }>> {
  return (await builtRoutes()).filter((r) => r.access !== undefined || PERSONAL.test(r.path)).map((r) => ({ path: r.path, access: r.access ?? 'signed-in' }));
}

for (const target of testDatabases()) {
  describe(`pages that need a signed-in user, on ${target.name}`, needs({}), () => {
    let db: Db;
    let app: FastifyInstance;
    const host = 'gridpulse.test';
    const cookies: Partial<Record<UserRole, string>> = {};
    before(async () => {
      ({ db, app } = await openTestApp(target));
      for (const role of ROLES) {
        const who = await signIn(app, db, role);
        const { cookie, csrf } = await formCredentials(app, '/signin');
        const res = await app.inject({
          method: 'POST', url: '/signin', headers: { host, origin: `http://${host}`, cookie, 'content-type': 'application/x-www-form-urlencoded' },
          payload: new URLSearchParams({ csrf, email: who.email, password: who.password }).toString(),
        });
        const session = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('gp_session='));
        assert.ok(session, `${role} signed in`);
        cookies[role] = `${cookie}; ${session.split(';')[0]}`;
      }
    });
    after(async () => { await app.close(); await db.close(); });

    it('finds every personal page in the route list declaring who may open it', async () => {
      const routes = await builtRoutes();
      const guarded = (await guardedPages()).map((r) => r.path);
      for (const r of routes) if (PERSONAL.test(r.path)) assert.ok(r.access, `${r.path} must export access`);
      for (const path of ['account', 'account/views', 'account/alerts', 'admin', 'egrid/upload']) assert.ok(guarded.includes(path), path);
    });

    it('redirects signed-out visitors to /signin?next=<the page> before rendering anything, on every such page', async () => {
      for (const { path } of await guardedPages()) {
        for (const query of ['', '?from=2025-01-01&x=a%20b']) {
          const res = await app.inject({ url: `/${path}${query}`, headers: { host } });
          assert.equal(res.statusCode, 302, `/${path}${query}`);
          const next = new URL(res.headers.location as string, `http://${host}`);
          assert.equal(next.pathname, '/signin');
          assert.equal(next.searchParams.get('next'), `/${path}${query}`);
          assert.doesNotMatch(res.body, /<form/);
          // the client-side navigation's data request is refused the same way
          const data = await app.inject({ url: `/${path}.data`, headers: { host } });
          assert.doesNotMatch(data.body, /"access"|<form/);
          assert.ok(data.statusCode === 302 || data.headers['x-remix-redirect'] !== undefined || /signin\?next=/.test(data.body), `/${path}.data: ${data.statusCode}`);
        }
      }
    });

    it('answers a 403 page to a role the page does not serve, and the page to one it does (every role, every page)', async () => {
      for (const { path, access } of await guardedPages()) {
        for (const role of ROLES) {
          const res = await app.inject({ url: `/${path}`, headers: { host, cookie: cookies[role]! } });
          const allowed = access === 'signed-in' || access.includes(role);
          // a page of one object (`:id` in its path) is asked for a literal ':id': past the access check, its own 404
          const served = path.includes(':') ? 404 : 200;
          assert.equal(res.statusCode, allowed ? served : 403, `/${path} as ${role}: ${res.statusCode}`);
          if (!allowed) assert.match(res.body, new RegExp(`This page is for [a-z ]+ accounts; yours has the role ${role}`));
          assert.match(String(res.headers['cache-control']), /no-store/, `/${path} as ${role} is personal: never cached`);
        }
      }
    });

    it('words the API\'s real 401 and 403 refusals for people wherever a page shows them (no API jargon)', async () => {
      const file = { method: 'POST' as const, url: '/api/v1/egrid/uploads', headers: { host, 'content-type': 'multipart/form-data; boundary=x' }, payload: '--x--\r\n' };
      const refusals = [
        await app.inject(file),
        await app.inject({ ...file, headers: { ...file.headers, cookie: cookies.viewer!, origin: `http://${host}`, 'x-csrf-token': await sessionCsrf(app, cookies.viewer!, '/account') } }),
        await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: { host, cookie: cookies.viewer!, origin: `http://${host}` }, payload: {} }),
        await app.inject({ url: '/api/v1/me/views', headers: { host, cookie: 'gp_session=forged.value' } }),
      ];
      assert.deepEqual(refusals.map((r) => r.statusCode), [401, 403, 403, 401]);
      const shown = refusals.map((r) => { const p = r.json<{ status: number; detail: string; field?: string }>(); return pageProblemDetail(p.status, p.detail, p.field); });
      for (const text of shown) assert.doesNotMatch(text, /Bearer|Authorization|X-CSRF|api\/v1|\bPOST\b|token or API key/i, text);
      assert.match(shown[0]!, /sign in/);
      assert.match(shown[1]!, /role/);
      assert.match(shown[2]!, /reload/);
      assert.match(shown[3]!, /sign in/);
      assert.equal(pageProblemDetail(400, 'bas/0: unknown balancing authority', 'bas/0'), 'bas/0: unknown balancing authority', 'other problems pass unchanged');
      assert.equal(pageProblemDetail(401, 'the e-mail address or password is wrong', 'password'), 'the e-mail address or password is wrong', 'a sign-in\'s own 401 is for people already');
    });
  });
}
