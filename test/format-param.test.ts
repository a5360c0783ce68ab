import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../src/platform/db.ts';
import { testDatabases } from './support/databases.ts';
import { openTestApp } from './support/app.ts';
import { authHeaders } from './support/auth.ts';

/** Path parameters filled with values the routes' own schemas accept, so only `format` can be at fault. */
const PARAMS: Record<string, string> = { level: 'ba', code: 'MISO', orispl: '3', ba: 'MISO', id: '1' };
/** Other query parameters a route requires, for the same reason. */
const REQUIRED: Record<string, string> = { '/api/v1/observations': '&series=EBA.MISO-ALL.D.H&from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z' };

for (const target of testDatabases()) {
  describe(`format on every /api/v1 GET route on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let admin: { authorization: string };
    before(async () => {
      ({ db, app } = await openTestApp(target));
      admin = await authHeaders(app, db, 'admin');
    });
    after(async () => { await app.close(); await db.close(); });

    it('format=csv on /api/v1/egrid/top-emitters is refused with 400 naming format, not answered as JSON', async () => {
      const res = await app.inject({ url: '/api/v1/egrid/top-emitters?format=csv' });
      assert.equal(res.statusCode, 400, res.body);
      assert.match(String(res.headers['content-type']), /application\/problem\+json/);
      assert.equal(res.json<{ field: string }>().field, 'format');
      const plain = await app.inject({ url: '/api/v1/egrid/top-emitters' });
      assert.notEqual(plain.statusCode, 400, 'without format the route still answers');
    });

    it('every route either honours format or refuses an unknown value with 400 naming format', async () => {
      const spec = (await app.inject({ url: '/api/v1/openapi.json' })).json<{ paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> }>();
      let refused = 0; let offered = 0;
      const failures: string[] = [];
      for (const [p, ops] of Object.entries(spec.paths)) {
        if (!p.startsWith('/api/v1/') || !ops.get) continue;
        const url = p.replace(/\{(\w+)\}/g, (_, name: string) => PARAMS[name] ?? '1');
        const declares = (ops.get.parameters ?? []).some((x) => x.in === 'query' && x.name === 'format');
        const res = await app.inject({ url: `${url}?format=bogus${REQUIRED[p] ?? ''}`, headers: admin });
        if (res.statusCode === 401 || res.statusCode === 403) continue; // refused before any query is read (worker keys)
        const field = res.statusCode === 400 ? res.json<{ field?: string }>().field : undefined;
        if (res.statusCode !== 400 || field !== 'format') failures.push(`${url}: ${res.statusCode} ${field ?? ''} ${res.body.slice(0, 120)}`);
        else if (declares) offered++;
        else refused++;
      }
      assert.deepEqual(failures, []);
      assert.ok(refused >= 10, `routes without format refuse it (${refused})`);
      assert.ok(offered >= 3, `routes with format validate it (${offered})`);
    });
  });
}
