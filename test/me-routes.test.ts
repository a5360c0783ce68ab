import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { testDatabases } from './support/databases.ts';
import { signIn, keyHeaders, type SignedIn } from './support/auth.ts';
import { buildApp } from '../src/app.ts';
import { memoryCache } from '../src/platform/cache.ts';
import { migrate } from '../src/platform/migrate.ts';
import type { Db } from '../src/platform/db.ts';

const view = { name: 'West', page: 'compare', bas: ['CISO', 'BPAT'], range: { kind: 'relative', last: 'P7D' }, charts: ['demand'] };
const alert = (webhookUrl: string) => ({ name: 'CISO clean', rule: { kind: 'intensity_below', ba: 'CISO', thresholdGPerKwh: 150 }, webhookUrl });

for (const target of testDatabases()) {
  describe(`/api/v1/me/views and /api/v1/me/alerts over HTTP on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let strictApp: FastifyInstance;
    let alice: SignedIn;
    let bob: SignedIn;
    before(async () => {
      db = await target.open();
      await migrate(db);
      // the administrator's allowance lets tests name a local receiver; strictApp has none
      app = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache(), webhookPolicy: { allowPrivate: true } });
      strictApp = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache() });
      alice = await signIn(app, db, 'analyst');
      bob = await signIn(app, db, 'analyst');
    });
    after(async () => { await app.close(); await strictApp.close(); await db.close(); });

    it('gives each user their own views and alerts: another user\'s id answers 404 problem+json to every method, and lists stay apart', async () => {
      const v = await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: alice.headers, payload: view });
      assert.equal(v.statusCode, 201);
      const a = await app.inject({ method: 'POST', url: '/api/v1/me/alerts', headers: alice.headers, payload: alert('http://127.0.0.1:9999/hook') });
      assert.equal(a.statusCode, 201);
      const viewId = v.json().id as string;
      const alertId = a.json().id as string;
      const attempts: Array<[string, string, unknown?]> = [
        ['GET', `/api/v1/me/views/${viewId}`], ['PUT', `/api/v1/me/views/${viewId}`, view], ['DELETE', `/api/v1/me/views/${viewId}`],
        ['POST', `/api/v1/me/views/${viewId}/share`], ['DELETE', `/api/v1/me/views/${viewId}/share`],
        ['GET', `/api/v1/me/alerts/${alertId}`], ['PUT', `/api/v1/me/alerts/${alertId}`, alert('http://127.0.0.1:9999/x')], ['DELETE', `/api/v1/me/alerts/${alertId}`],
        ['GET', `/api/v1/me/alerts/${alertId}/deliveries`],
      ];
      for (const [method, url, payload] of attempts) {
        const r = await app.inject({ method: method as 'GET', url, headers: bob.headers, ...(payload ? { payload: payload as object } : {}) });
        assert.equal(r.statusCode, 404, `${method} ${url} by another user`);
        assert.match(String(r.headers['content-type']), /application\/problem\+json/);
        assert.ok(!r.body.includes('West') && !r.body.includes('CISO clean'), 'nothing of the object leaks');
      }
      assert.deepEqual((await app.inject({ url: '/api/v1/me/views', headers: bob.headers })).json().data, []);
      assert.deepEqual((await app.inject({ url: '/api/v1/me/alerts', headers: bob.headers })).json().data, []);
      // alice's objects are untouched
      assert.equal((await app.inject({ url: `/api/v1/me/views/${viewId}`, headers: alice.headers })).json().name, 'West');
      assert.equal((await app.inject({ url: `/api/v1/me/alerts/${alertId}`, headers: alice.headers })).json().name, 'CISO clean');
    });

    it('shows the signing secret once, never again, and audits each change in the same transaction', async () => {
      const created = await app.inject({ method: 'POST', url: '/api/v1/me/alerts', headers: alice.headers, payload: alert('http://127.0.0.1:9999/hook') });
      const body = created.json();
      assert.match(body.secret, /^whsec_/);
      const again = await app.inject({ url: `/api/v1/me/alerts/${body.id}`, headers: alice.headers });
      assert.equal(again.json().secret, undefined);
      assert.ok(!again.body.includes(body.secret));
      const [rec] = await db.query<{ action: string; user_id: string; outcome: string }>(
        `SELECT action, user_id::text AS user_id, outcome FROM audit_log WHERE object_id = $1`, [body.id]);
      assert.deepEqual(rec, { action: 'alerts.create', user_id: alice.userId, outcome: 'success' });
    });

    it('refuses webhook targets that could reach internal services when no administrator allows them (400 naming webhookUrl)', async () => {
      for (const url of ['http://127.0.0.1:8080/', 'http://[::1]/', 'http://0x7f.1/', 'http://169.254.169.254/latest/meta-data/', 'http://10.1.2.3/', 'ftp://example.com/']) {
        const r = await strictApp.inject({ method: 'POST', url: '/api/v1/me/alerts', headers: alice.headers, payload: alert(url) });
        assert.equal(r.statusCode, 400, url);
        assert.equal(r.json().field, 'webhookUrl');
      }
      const before = (await strictApp.inject({ url: '/api/v1/me/alerts', headers: alice.headers })).json().data.length;
      assert.equal(before, (await app.inject({ url: '/api/v1/me/alerts', headers: alice.headers })).json().data.length, 'nothing was stored');
    });

    it('lets a personal key act for its owner only within its scopes; a worker key has no owner', async () => {
      const reader = await keyHeaders(db, 'personal', ['views:read'], { id: alice.userId, role: 'analyst' });
      const list = await app.inject({ url: '/api/v1/me/views', headers: reader });
      assert.equal(list.statusCode, 200);
      assert.ok(list.json().data.length >= 1);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: reader, payload: view })).statusCode, 403);
      assert.equal((await app.inject({ url: '/api/v1/me/views', headers: await keyHeaders(db, 'worker') })).statusCode, 403);
      assert.equal((await app.inject({ url: '/api/v1/me/alerts' })).statusCode, 401);
    });

    it('answers bad input with 400 naming the field, storing nothing', async () => {
      const cases: Array<[string, unknown, string]> = [
        ['/api/v1/me/views', { ...view, range: { kind: 'relative', last: 'a week' } }, 'range/last'],
        ['/api/v1/me/views', { ...view, bas: [] }, 'bas'],
        ['/api/v1/me/alerts', { ...alert('http://127.0.0.1:9999/'), rule: { kind: 'intensity_below', ba: 'CISO', thresholdGPerKwh: -3 } }, 'rule/thresholdGPerKwh'],
        ['/api/v1/me/alerts', { ...alert('http://127.0.0.1:9999/'), rule: { kind: 'moon_phase', ba: 'CISO' } }, 'rule/kind'],
      ];
      for (const [url, payload, field] of cases) {
        const r = await app.inject({ method: 'POST', url, headers: bob.headers, payload: payload as object });
        assert.equal(r.statusCode, 400, JSON.stringify(payload));
        assert.equal(r.json().field, field);
      }
      assert.equal((await app.inject({ url: '/api/v1/me/views/not-a-uuid', headers: bob.headers })).statusCode, 400);
      assert.deepEqual((await app.inject({ url: '/api/v1/me/views', headers: bob.headers })).json().data, []);
    });
  });
}
