import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.ts';
import { openTestApp } from '../support/app.ts';
import { signIn, type SignedIn } from '../support/auth.ts';
import { formCredentials, sessionCsrf } from '../support/form-post.ts';
import { needs } from './support/availability.ts';
import type { Db } from '../../src/platform/db.ts';

/** The site's pages for accounts, driven as a browser without JavaScript drives them: cookies and form posts. */
for (const target of testDatabases()) {
  describe(`account pages on ${target.name}`, needs({}), () => {
    let db: Db;
    let app: FastifyInstance;
    let analyst: SignedIn;
    let admin: SignedIn;
    const host = 'gridpulse.test';
    before(async () => {
      ({ db, app } = await openTestApp(target));
      analyst = await signIn(app, db, 'analyst');
      admin = await signIn(app, db, 'admin');
    });
    after(async () => { await app.close(); await db.close(); });

    const form = (fields: Record<string, string | string[]>) => {
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(fields)) for (const one of ([] as string[]).concat(v)) p.append(k, one);
      return p.toString();
    };
    const post = (url: string, cookie: string, fields: Record<string, string | string[]>, origin = `http://${host}`) => app.inject({
      method: 'POST', url, payload: form(fields),
      headers: { host, origin, cookie, 'content-type': 'application/x-www-form-urlencoded' },
    });
    /** Signs a browser in through the page; its cookie jar (anti-forgery cookie and session cookie) and token. */
    async function browserSignIn(who: SignedIn) {
      const { cookie, csrf } = await formCredentials(app, '/signin');
      const res = await post('/signin', cookie, { csrf, email: who.email, password: who.password, next: '/account' });
      assert.equal(res.statusCode, 303, res.body);
      assert.equal(res.headers.location, '/account');
      const set = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('gp_session='))!;
      assert.match(set, /HttpOnly/);
      assert.match(set, /SameSite=Lax/);
      assert.doesNotMatch(set, /Secure/, 'plain HTTP: not Secure (HTTPS adds it)');
      const jar = `${cookie}; ${set.split(';')[0]}`;
      const bound = await sessionCsrf(app, jar, '/account');
      assert.notEqual(bound, csrf, 'signing in binds the token to the session');
      return { cookie: jar, csrf: bound, anonymousCsrf: csrf, anonymousCookie: cookie };
    }

    it('signs in through the form, shows the account (no-store), and refuses a wrong password on the page', async () => {
      const { cookie, csrf } = await formCredentials(app, '/signin');
      const wrong = await post('/signin', cookie, { csrf, email: analyst.email, password: 'not the password at all' });
      assert.equal(wrong.statusCode, 200);
      assert.match(wrong.body, /role="alert"[^>]*>the e-mail address or password is wrong/);
      const b = await browserSignIn(analyst);
      const page = await app.inject({ url: '/account', headers: { host, cookie: b.cookie } });
      assert.equal(page.statusCode, 200);
      assert.match(page.headers['cache-control'] as string, /no-store/);
      assert.ok(page.body.includes(analyst.email));
      assert.match(page.body, /Sign out everywhere/);
      const anon = await app.inject({ url: '/account', headers: { host } });
      assert.equal(anon.statusCode, 302);
      assert.equal(anon.headers.location, '/signin?next=/account');
    });

    it('creates and revokes a personal key on the page; the key then works, and not after revocation', async () => {
      const b = await browserSignIn(analyst);
      const made = await post('/account', b.cookie, { csrf: b.csrf, intent: 'create-key', name: 'notebook', scope: ['me:read', 'views:read'] });
      assert.equal(made.statusCode, 200);
      const token = /value="(gp_[0-9a-f]{12}_[A-Za-z0-9_-]{43})"/.exec(made.body)?.[1];
      assert.ok(token, 'the token is shown once');
      assert.equal((await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })).json<{ id: string }>().id, analyst.userId);
      const id = token.slice(3, 15);
      const gone = await post('/account', b.cookie, { csrf: b.csrf, intent: 'revoke-key', id });
      assert.match(gone.body, /Key revoked/);
      assert.equal((await app.inject({ url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode, 401);
    });

    it('refuses cross-site form posts and cookie-authenticated API calls without the anti-forgery token (403, audited)', async () => {
      const b = await browserSignIn(analyst);
      const noToken = await post('/account', b.cookie, { intent: 'revoke-all' });
      assert.equal(noToken.statusCode, 403);
      assert.equal(noToken.json<{ field: string }>().field, 'csrf');
      const evil = await post('/account', b.cookie, { csrf: b.csrf, intent: 'revoke-all' }, 'https://evil.example');
      assert.equal(evil.statusCode, 403);
      const count = async () => (await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM audit_log WHERE action = 'access.denied'`))[0]!.n;
      const before = await count();
      const api = await app.inject({ method: 'POST', url: '/api/v1/me/keys', headers: { host, cookie: b.cookie, 'content-type': 'application/json' }, payload: {} });
      assert.equal(api.statusCode, 403);
      assert.equal(api.json<{ field: string }>().field, 'csrf');
      assert.equal(await count(), before + 1);
      const cross = await app.inject({ method: 'POST', url: '/api/v1/me/keys', headers: { host, origin: 'https://evil.example', cookie: b.cookie, 'x-csrf-token': b.csrf, 'content-type': 'application/json' }, payload: {} });
      assert.equal(cross.statusCode, 403);
      assert.equal(cross.json<{ field: string }>().field, 'origin');
      const good = await app.inject({ method: 'POST', url: '/api/v1/me/keys', headers: { host, origin: `http://${host}`, cookie: b.cookie, 'x-csrf-token': b.csrf, 'content-type': 'application/json' }, payload: {} });
      assert.equal(good.statusCode, 201, good.body);
      // a fresh tester's finding (issue 12, 6): an anonymous browser's pair (cookie and token) with a victim's session cookie
      const attacker = await formCredentials(app, '/signin');
      const victimSession = b.cookie.split('; ').find((c) => c.startsWith('gp_session='))!;
      const planted = `${attacker.cookie}; ${victimSession}`;
      const apiPair = await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: { host, origin: `http://${host}`, cookie: planted, 'x-csrf-token': attacker.csrf, 'content-type': 'application/json' }, payload: { name: 'x', bas: ['CISO'] } });
      assert.equal(apiPair.statusCode, 403, apiPair.body);
      assert.equal(apiPair.json<{ field: string }>().field, 'csrf');
      const formPair = await post('/account', planted, { csrf: attacker.csrf, intent: 'revoke-all' });
      assert.equal(formPair.statusCode, 403, 'an anonymous token does not fit a signed-in session\'s form post');
      assert.equal(formPair.json<{ field: string }>().field, 'csrf');
      const ownAnon = await app.inject({ method: 'POST', url: '/api/v1/me/keys', headers: { host, origin: `http://${host}`, cookie: b.cookie, 'x-csrf-token': b.anonymousCsrf, 'content-type': 'application/json' }, payload: {} });
      assert.equal(ownAnon.statusCode, 403, 'even the same browser\'s pre-sign-in token is not the session\'s');
      const login = await app.inject({ method: 'POST', url: '/api/v1/auth/session', headers: { host, origin: 'https://evil.example' }, payload: { email: analyst.email, password: analyst.password } });
      assert.equal(login.statusCode, 403, 'no login CSRF');
    });

    it('"sign out everywhere" on the page ends the browser session and the API tokens of the account', async () => {
      const user = await signIn(app, db, 'viewer');
      const b = await browserSignIn(user);
      const out = await post('/account', b.cookie, { csrf: b.csrf, intent: 'revoke-all' });
      assert.equal(out.statusCode, 303);
      assert.equal((await app.inject({ url: '/account', headers: { host, cookie: b.cookie } })).statusCode, 302);
      assert.equal((await app.inject({ url: '/api/v1/me', headers: user.headers })).statusCode, 401);
    });

    it('the admin page is for admins; an invitation link made there creates an account once', async () => {
      const nb = await browserSignIn(analyst);
      assert.equal((await app.inject({ url: '/admin', headers: { host, cookie: nb.cookie } })).statusCode, 403);
      const b = await browserSignIn(admin);
      const page = await app.inject({ url: '/admin?action=auth.', headers: { host, cookie: b.cookie } });
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /auth\.login/);
      const email = `invited-${Date.now()}@example.org`;
      const made = await post('/admin', b.cookie, { csrf: b.csrf, intent: 'invite', email, role: 'analyst' });
      const link = /value="http:\/\/[^"]+(\/invite\/gpi_[^"]+)"/.exec(made.body)?.[1];
      assert.ok(link, made.body.slice(0, 300));
      const visitor = await formCredentials(app, link);
      const weak = await post(link, visitor.cookie, { csrf: visitor.csrf, password: 'password1234', confirm: 'password1234' });
      assert.match(weak.body, /commonly used/);
      const ok = await post(link, visitor.cookie, { csrf: visitor.csrf, password: 'a long and private phrase', confirm: 'a long and private phrase', displayName: 'Ana' });
      assert.equal(ok.statusCode, 303, ok.body);
      assert.equal(ok.headers.location, '/account');
      const again = await post(link, visitor.cookie, { csrf: visitor.csrf, password: 'a long and private phrase', confirm: 'a long and private phrase' });
      assert.match(again.body, /already used/);
      const csv = await app.inject({ url: '/api/v1/admin/audit?action=invitations.&format=csv', headers: admin.headers });
      assert.match(csv.headers['content-type'] as string, /text\/csv/);
      assert.match(csv.body, /^id,at,actorKind/);
      assert.match(csv.body, /invitations\.accept/);
    });
  });
}
