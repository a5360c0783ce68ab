import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.ts';
import { openTestApp } from '../support/app.ts';
import { keyHeaders, signIn } from '../support/auth.ts';
import type { Db } from '../../src/platform/db.ts';

for (const target of testDatabases()) {
  describe(`identity contract on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => { ({ db, app } = await openTestApp(target)); });
    after(async () => { await app.close(); await db.close(); });

    it('signs a user in through the real route and knows them at /api/v1/me; anonymous gets 401 problem+json', async () => {
      const who = await signIn(app, db, 'analyst');
      const me = await app.inject({ url: '/api/v1/me', headers: who.headers });
      assert.equal(me.statusCode, 200, me.body);
      assert.equal(me.json<{ id: string }>().id, who.userId);
      assert.equal(me.json<{ role: string }>().role, 'analyst');
      const anon = await app.inject({ url: '/api/v1/me' });
      assert.equal(anon.statusCode, 401);
      assert.match(anon.headers['content-type'] as string, /application\/problem\+json/);
      assert.match(anon.headers['www-authenticate'] as string, /^Bearer realm="gridpulse"/);
    });

    it('a worker key reaches the data API; a signed-in viewer gets 403 there', async () => {
      const worker = await keyHeaders(db, 'worker');
      assert.equal((await app.inject({ url: '/api/v1/data/latest?series=CISO.demand', headers: worker })).statusCode, 200);
      const viewer = await signIn(app, db, 'viewer');
      const res = await app.inject({ url: '/api/v1/data/latest?series=CISO.demand', headers: viewer.headers });
      assert.equal(res.statusCode, 403);
      assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
      // a state-changing call is in the audit log when its answer arrives: who, what, outcome, from where, request id
      const write = await app.inject({ method: 'POST', url: '/api/v1/data/observations', headers: worker, payload: { rows: [{ ba: 'CISO', type: 'demand', ts: '2025-08-01T00:00:00Z', value: 1 }] } });
      assert.equal(write.statusCode, 200, write.body);
      const [rec] = await db.query<{ actor_kind: string; actor_id: string; object_id: string; outcome: string; ip: string; request_id: string }>(
        `SELECT actor_kind, actor_id, object_id, outcome, ip, request_id FROM audit_log WHERE action = 'http.post' ORDER BY id DESC LIMIT 1`);
      assert.deepEqual({ ...rec, request_id: typeof rec?.request_id }, { actor_kind: 'key', actor_id: worker.authorization.slice(10, 22), object_id: 'POST /api/v1/data/observations', outcome: 'success', ip: '127.0.0.1', request_id: 'string' });
    });
  });
}

describe('every route declares who may call it', () => {
  it('lists each route of the whole app with its access declaration; none is left undeclared', async () => {
    const { db, app } = await openTestApp(testDatabases()[0]!);
    try {
      await app.ready();
      const undeclared = app.routeTable.filter((r) => !r.config?.access).map((r) => `${String(r.method)} ${r.url}`);
      assert.ok(app.routeTable.length > 40, `the app's routes are listed (${app.routeTable.length})`);
      assert.deepEqual(undeclared, [], 'routes without config.access');
      for (const path of ['/api/v1/me', '/api/v1/data/observations', '/api/v1/auth/login', '/api/v1/bas']) {
        assert.ok(app.routeTable.some((r) => r.url === path), `${path} is listed`);
      }
    } finally {
      await app.close();
      await db.close();
    }
  });
});

describe('the OpenAPI document states each operation\'s access rule (issue 12 finding 7)', () => {
  it('every operation: 429 problem+json and x-gridpulse-access; with credentials needed also security, 401 and 403 and an "Access:" line', async () => {
    const { db, app } = await openTestApp(testDatabases()[0]!);
    try {
      type Op = { security?: unknown[]; description?: string; responses?: Record<string, { content?: Record<string, unknown> }>; 'x-gridpulse-access'?: { public?: true; roles?: string[]; scopes?: string[]; owner?: boolean } };
      const doc = (await app.inject('/api/v1/openapi.json')).json<{ paths: Record<string, Record<string, Op>> }>();
      const ops = Object.entries(doc.paths).flatMap(([path, m]) => Object.entries(m).map(([method, op]) => ({ what: `${method.toUpperCase()} ${path}`, op })));
      const declared = new Map(app.routeTable.map((r) => [`${String(r.method)} ${r.url.replace(/:(\w+)/g, '{$1}')}`, r.config?.access]));
      const failures: string[] = [];
      let guarded = 0;
      for (const { what, op } of ops) {
        const x = op['x-gridpulse-access'];
        if (!x) { failures.push(`${what}: no x-gridpulse-access`); continue; }
        if (!op.responses?.['429']) failures.push(`${what}: no 429`);
        const access = declared.get(what);
        if (access && ('public' in access) !== (x.public === true)) failures.push(`${what}: x-gridpulse-access ${JSON.stringify(x)} differs from config.access ${JSON.stringify(access)}`);
        if (x.public) continue;
        guarded++;
        if (!(x.roles?.length || x.scopes?.length)) failures.push(`${what}: neither roles nor scopes`);
        if (!op.security?.length) failures.push(`${what}: no security`);
        for (const code of ['401', '403']) {
          const r = op.responses?.[code];
          if (!r) failures.push(`${what}: no ${code}`);
          else if (r.content && !Object.keys(r.content).some((t) => /problem\+json|application\/json/.test(t))) failures.push(`${what}: ${code} is not problem+json`);
        }
        if (!/Access: /.test(op.description ?? '')) failures.push(`${what}: no "Access:" line in its description`);
      }
      assert.ok(guarded >= 60, `${guarded} operations need credentials`);
      assert.deepEqual(failures, []);
      const users = doc.paths['/api/v1/admin/users']!.get!;
      assert.deepEqual(users['x-gridpulse-access'], { roles: ['admin'], scopes: [], owner: false });
      assert.ok(users.responses!['401']!.content!['application/problem+json']);
    } finally {
      await app.close();
      await db.close();
    }
  });
});
