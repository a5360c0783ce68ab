import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.ts';
import { invalidateBa } from '../../src/analytics/shared/analytics-cache.ts';
import type { Cache } from '../../src/platform/cache.ts';
import { needs } from './support/availability.ts';
import { startSite, type Site } from './support/site.ts';
import { DEFAULT_PREFS, serializePrefs } from '../../src/web/app/lib/prefs.ts';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

const setCookies = (res: { headers: Record<string, unknown> }) => ([] as string[]).concat((res.headers['set-cookie'] as string[] | string | undefined) ?? []);
const csrfCookieOf = (res: { headers: Record<string, unknown> }) => setCookies(res).find((c) => c.startsWith('gp_csrf='))?.split(';')[0];
/** Every anti-forgery token a page carries: its forms' hidden fields. */
const formTokens = (html: string) => [...html.matchAll(/<input type="hidden" name="csrf" value="([^"]+)"/g)].map((m) => m[1]!);
/** Strings shaped like tokens (43 base64url characters) anywhere in the page, hydration data included. */
const tokenLike = (html: string) => new Set(html.match(/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g) ?? []);

for (const target of testDatabases()) {
  describe(`page cache of anonymous pages on ${target.name}`, needs({}), () => {
    let site: Site;
    let app: FastifyInstance;
    let cache: Cache;
    before(async () => { site = await startSite({ store: target, bas: ['CISO'], days: 2 }); ({ app, cache } = site); });
    after(() => site?.close());

    it('serves a stored page to the next visitor with that visitor\'s own token, never another\'s', async () => {
      await invalidateBa(cache, 'CISO');
      const a = await app.inject('/ba/CISO');
      const b = await app.inject('/ba/CISO');
      assert.equal(a.statusCode, 200);
      assert.equal(a.headers['x-page-cache'], 'miss');
      assert.equal(b.headers['x-page-cache'], 'hit');
      const [cookieA, cookieB] = [csrfCookieOf(a), csrfCookieOf(b)];
      assert.ok(cookieA && cookieB && cookieA !== cookieB, 'each new visitor gets a cookie of their own');
      const [tokenA, tokenB] = [cookieA.slice('gp_csrf='.length), cookieB.slice('gp_csrf='.length)];
      assert.ok(formTokens(b.body).length > 0, 'the page has a form');
      assert.deepEqual(new Set(formTokens(a.body)), new Set([tokenA]));
      assert.deepEqual(new Set(formTokens(b.body)), new Set([tokenB]));
      assert.ok(!b.body.includes(tokenA), 'the cached page holds none of the first visitor\'s token');
      // apart from the visitor's token, the two pages are the same bytes: nothing else of A's reached B
      assert.equal(a.body.split(tokenA).join('T'), b.body.split(tokenB).join('T'));
    });

    it('gives every visitor (any cookie token) their own token in place of the stored one, hydration data included', async () => {
      await app.inject('/ba/CISO'); // stored
      const tokens = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('base64url'));
      await fc.assert(fc.asyncProperty(tokens, async (token) => {
        const res = await app.inject({ url: '/ba/CISO', headers: { cookie: `gp_csrf=${token}` } });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['x-page-cache'], 'hit');
        assert.equal(csrfCookieOf(res), undefined, 'a visitor with a token keeps it');
        assert.deepEqual(new Set(formTokens(res.body)), new Set([token]));
        // the stored placeholder never reaches anyone: the visitor's is the only token-shaped string in the page
        assert.deepEqual([...tokenLike(res.body)].filter((t) => t !== token), []);
      }), { numRuns: 25 });
    });

    it('a token lifted from a cached page served to one visitor does not let another visitor (or a forger) post', async () => {
      const victim = await app.inject('/ba/CISO');
      const attacker = await app.inject('/ba/CISO');
      assert.equal(attacker.headers['x-page-cache'], 'hit');
      const victimCookie = csrfCookieOf(victim)!;
      const attackerToken = formTokens(attacker.body)[0]!;
      const post = (cookie: string | undefined, token: string) => app.inject({ method: 'POST', url: '/prefs', headers: { ...FORM, ...(cookie ? { cookie } : {}) },
        payload: `theme=dark&redirectTo=%2F&csrf=${token}` });
      // the attacker's token from the cached page with the victim's cookie: refused
      const forged = await post(victimCookie, attackerToken);
      assert.equal(forged.statusCode, 403);
      assert.equal(forged.json().field, 'csrf');
      // no cookie at all: refused
      assert.equal((await post(undefined, attackerToken)).statusCode, 403);
      // the victim's own pair still works
      const own = await post(victimCookie, formTokens(victim.body)[0]!);
      assert.ok(own.statusCode < 400, String(own.statusCode));
    });

    it('keys on preferences, host and data version; never caches a signed-in request', async () => {
      await invalidateBa(cache, 'CISO');
      assert.equal((await app.inject('/ba/CISO')).headers['x-page-cache'], 'miss');
      assert.equal((await app.inject('/ba/CISO')).headers['x-page-cache'], 'hit');
      // another visitor's preferences are another page
      const prefs = { ...DEFAULT_PREFS, time: 'utc' as const, theme: 'dark' as const };
      const cookie = serializePrefs(prefs).split(';')[0]!;
      const utc = await app.inject({ url: '/ba/CISO', headers: { cookie } });
      assert.equal(utc.headers['x-page-cache'], 'miss');
      assert.equal((await app.inject({ url: '/ba/CISO', headers: { cookie } })).headers['x-page-cache'], 'hit');
      // malformed preferences read as the defaults, so they are the default page
      assert.equal((await app.inject({ url: '/ba/CISO', headers: { cookie: 'gp_prefs=%%%' } })).headers['x-page-cache'], 'hit');
      // a forged Host is a page of its own and never reaches visitors of the real one
      await invalidateBa(cache, 'CISO');
      const poisoned = await app.inject({ url: '/ba/CISO', headers: { host: 'evil.example' } });
      assert.ok(poisoned.body.includes('http://evil.example/badge/CISO.svg'), 'the snippets name the request\'s host');
      const real = await app.inject({ url: '/ba/CISO', headers: { host: 'localhost:80' } });
      assert.equal(real.headers['x-page-cache'], 'miss');
      assert.ok(!real.body.includes('evil.example'));
      // a session cookie or credentials bypass the cache entirely
      for (const headers of [{ cookie: `gp_session=${randomBytes(16).toString('hex')}` }, { authorization: 'Bearer x' }]) {
        const res = await app.inject({ url: '/ba/CISO', headers });
        assert.equal(res.headers['x-page-cache'], undefined, JSON.stringify(headers));
      }
      // a change event for any BA (here: the invalidation it triggers) drops the stored pages
      await invalidateBa(cache, 'PJM');
      assert.equal((await app.inject('/ba/CISO')).headers['x-page-cache'], 'miss');
    });
  });
}
