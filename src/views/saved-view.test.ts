import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../../test/support/databases.ts';
import { openTestApp } from '../../test/support/app.ts';
import type { Db } from '../platform/db.ts';
import { insertUser } from '../auth/users.ts';
import { signIn } from '../../test/support/auth.ts';
import { createView, deleteView, getView, listViews, relativeHours, shareView, sharedView, unshareView, updateView, viewHref, viewInput } from './saved-view.ts';

const input = (over: Record<string, unknown> = {}) => viewInput.parse({
  name: 'West this week', page: 'compare', bas: ['ciso', 'BPAT'], range: { kind: 'relative', last: 'P7D' }, charts: ['demand', 'intensity'], ...over,
});

describe('saved view input and addresses', () => {
  it('reads relative ranges in days or hours, and opens them ending with the current hour', () => {
    assert.equal(relativeHours('P7D'), 168);
    assert.equal(relativeHours('PT48H'), 48);
    const href = viewHref(input(), new Date('2025-07-01T10:20:00Z'));
    assert.equal(href, '/compare?bas=CISO%2CBPAT&from=2025-06-24T11%3A00%3A00.000Z&to=2025-07-01T11%3A00%3A00.000Z&charts=demand%2Cintensity');
    const ba = viewHref(input({ page: 'ba', bas: ['PJM'], range: { kind: 'absolute', from: '2025-01-01', to: '2025-01-08' }, charts: [] }));
    assert.equal(ba, '/ba/PJM?from=2025-01-01T00%3A00%3A00.000Z&to=2025-01-08T00%3A00%3A00.000Z');
  });

  it('refuses what it cannot open, naming the field', () => {
    const issue = (over: Record<string, unknown>) => viewInput.safeParse({ ...input(), ...over }).error?.issues[0]?.path.join('/');
    assert.equal(issue({ range: { kind: 'relative', last: '7 days' } }), 'range/last');
    assert.equal(issue({ range: { kind: 'relative', last: 'P400D' } }), 'range/last');
    for (const empty of ['PT0H', 'P0D', 'PT00H']) assert.equal(issue({ range: { kind: 'relative', last: empty } }), 'range/last', `${empty} would open with from == to`);
    assert.equal(issue({ range: { kind: 'absolute', from: '2025-02-01', to: '2025-01-01' } }), 'range/to');
    assert.equal(issue({ page: 'ba', bas: ['CISO', 'PJM'] }), 'bas');
    assert.equal(issue({ bas: ['CISO;DROP'] }), 'bas/0');
    assert.equal(issue({ charts: ['pie'] }), 'charts/0');
  });

  it('makes every relative range an hour-aligned span of exactly that length (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 366 }), fc.date({ min: new Date('2001-01-01'), max: new Date('2090-01-01'), noInvalidDate: true }), (days, now) => {
      const q = new URL(viewHref(input({ range: { kind: 'relative', last: `P${days}D` } }), now), 'http://x').searchParams;
      const from = Date.parse(q.get('from')!);
      const to = Date.parse(q.get('to')!);
      assert.equal(to - from, days * 86_400_000);
      assert.equal(to % 3_600_000, 0);
      assert.ok(to >= now.getTime() && to - now.getTime() < 3_600_000);
    }));
  });
});

for (const target of testDatabases()) {
  describe(`saved views on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    const u: Record<string, string> = {};
    before(async () => {
      ({ db, app } = await openTestApp(target));
      for (const name of ['alice', 'bob']) u[name] = (await insertUser(db, { email: `${name}-${process.pid}@example.org`, role: 'viewer', passwordHash: null })).id;
    });
    after(async () => { await app.close(); await db.close(); });

    it('saves, lists, replaces and deletes a user\'s views; another user\'s id finds nothing', async () => {
      const v = await createView(db, u.alice!, input());
      assert.deepEqual([v.bas, v.shared], [['CISO', 'BPAT'], false]);
      assert.deepEqual((await listViews(db, u.alice!)).map((x) => x.id), [v.id]);
      assert.deepEqual(await listViews(db, u.bob!), []);
      assert.equal(await getView(db, u.bob!, v.id), undefined);
      assert.equal(await updateView(db, u.bob!, v.id, input({ name: 'stolen' })), undefined);
      assert.equal(await deleteView(db, u.bob!, v.id), false);
      assert.equal(await shareView(db, u.bob!, v.id), undefined);
      const changed = await updateView(db, u.alice!, v.id, input({ name: 'Texas', page: 'ba', bas: ['ERCO'] }));
      assert.deepEqual([changed!.name, changed!.page, changed!.bas], ['Texas', 'ba', ['ERCO']]);
      assert.equal(await deleteView(db, u.alice!, v.id), true);
      assert.equal(await getView(db, u.alice!, v.id), undefined);
    });

    it('shares a view by a revocable link: /v/{token} opens the page as saved; a new link or a revoke kills the old one', async () => {
      const v = await createView(db, u.alice!, input({ range: { kind: 'absolute', from: '2025-03-01', to: '2025-03-08' } }));
      const token = (await shareView(db, u.alice!, v.id))!;
      const open = await app.inject({ url: `/v/${token}` });
      assert.equal(open.statusCode, 302);
      assert.equal(open.headers.location, '/compare?bas=CISO%2CBPAT&from=2025-03-01T00%3A00%3A00.000Z&to=2025-03-08T00%3A00%3A00.000Z&charts=demand%2Cintensity');
      const api = await app.inject({ url: `/api/v1/shared/views/${token}` });
      assert.equal(api.statusCode, 200);
      assert.deepEqual(Object.keys(api.json()).sort(), ['bas', 'charts', 'href', 'name', 'page', 'range', 'updatedAt'], 'read-only: no id, no owner');
      assert.equal((await getView(db, u.alice!, v.id))!.shared, true);
      const renewed = (await shareView(db, u.alice!, v.id))!;
      assert.equal((await app.inject({ url: `/v/${token}` })).statusCode, 404, 'the replaced link is dead');
      assert.equal((await app.inject({ url: `/api/v1/shared/views/${renewed}` })).statusCode, 200);
      assert.equal(await unshareView(db, u.alice!, v.id), true);
      const revoked = await app.inject({ url: `/api/v1/shared/views/${renewed}` });
      assert.equal(revoked.statusCode, 404);
      assert.equal(revoked.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.equal(await sharedView(db, 'x'.repeat(43)), undefined);
      assert.equal((await app.inject({ url: `/v/${'%00'.repeat(5)}` })).statusCode, 400, 'control characters are refused before any lookup');
    });

    it('refuses, by 400 naming the field, a view of a BA the registry does not hold or of an empty range (create and replace)', async () => {
      const me = await signIn(app, db, 'viewer');
      const body = { name: 'n', page: 'compare', bas: ['CISO', 'ZZZZ'], range: { kind: 'relative', last: 'P7D' }, charts: [] };
      const create = await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: me.headers, payload: body });
      assert.equal(create.statusCode, 400);
      assert.deepEqual([create.json().field, create.json().detail.includes('ZZZZ')], ['bas/1', true]);
      const empty = await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: me.headers, payload: { ...body, bas: ['CISO'], range: { kind: 'relative', last: 'PT0H' } } });
      assert.equal(empty.statusCode, 400);
      assert.equal(empty.json().field, 'range/last');
      const good = await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: me.headers, payload: { ...body, bas: ['ciso', 'ERCO'] } });
      assert.equal(good.statusCode, 201, good.body);
      const put = await app.inject({ method: 'PUT', url: `/api/v1/me/views/${good.json().id}`, headers: me.headers, payload: { ...body, page: 'ba', bas: ['ZZZZ'] } });
      assert.equal(put.statusCode, 400);
      assert.equal(put.json().field, 'bas/0');
      assert.deepEqual((await app.inject({ url: `/api/v1/me/views/${good.json().id}`, headers: me.headers })).json().bas, ['CISO', 'ERCO'], 'the refused replace changed nothing');
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: me.headers, payload: body })).statusCode, 400);
      assert.equal((await listViews(db, me.userId)).length, 1, 'nothing refused was stored');
    });

    it('answers 401 problem+json to /api/v1/me/views and /api/v1/me/alerts without a signed-in user', async () => {
      for (const [method, url] of [['GET', '/api/v1/me/views'], ['POST', '/api/v1/me/views'], ['GET', '/api/v1/me/alerts']] as const) {
        const r = await app.inject({ method, url, ...(method === 'POST' ? { payload: input() } : {}) });
        assert.equal(r.statusCode, 401, `${method} ${url}`);
        assert.equal(r.json().status, 401);
      }
    });
  });
}
