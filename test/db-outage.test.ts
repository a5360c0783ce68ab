import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/app.ts';
import { createApiKey } from '../src/auth/api-keys.ts';
import { memoryCache } from '../src/platform/cache.ts';
import { openDb, type Db } from '../src/platform/db.ts';
import { UNAVAILABLE_RETRY_AFTER_S } from '../src/platform/problem.ts';
import { TcpProxy } from './support/tcp-proxy.ts';
import { sharedSchema } from './support/web-copies.ts';

/**
 * The API while PostgreSQL cannot be reached (issue 16): the app's connections go through a TCP proxy that is cut
 * (live connections closed, new ones reset, or black-holed until postgres.js's connect timeout). Writes and reads the
 * cache cannot answer get 503 application/problem+json with Retry-After — never 500 — and the same app serves them
 * again once the database is back.
 */
const url = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
const H = (h: number) => new Date(Date.parse('2025-08-01T00:00Z') + h * 3_600_000).toISOString();

describe('database down: 503 with Retry-After, then back', { skip: !url && !process.env.CI ? 'DATABASE_URL not set' : false, timeout: 120_000 }, () => {
  let shared: Awaited<ReturnType<typeof sharedSchema>>;
  let proxy: TcpProxy;
  let db: Db;
  let app: FastifyInstance;
  let auth: { authorization: string };

  before(async () => {
    assert.ok(url, 'CI runs this against PostgreSQL: set DATABASE_URL');
    shared = await sharedSchema();
    const target = new URL(shared.url);
    proxy = new TcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    target.host = `127.0.0.1:${await proxy.start()}`;
    db = await openDb({ databaseUrl: target.toString(), dataDir: ':memory:' });
    app = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache() });
    const { token } = await createApiKey(shared.db, { kind: 'worker', name: 'outage-test' });
    auth = { authorization: `Bearer ${token}` };
  });

  after(async () => {
    await app?.close().catch(() => {});
    await db?.close().catch(() => {});
    await proxy?.stop();
    await shared?.drop();
  });

  const post = (b: number) => app.inject({ method: 'POST', url: '/api/v1/data/observations', headers: auth,
    payload: { rows: Array.from({ length: 3 }, (_, k) => ({ ba: 'CISO', type: 'demand', ts: H(b * 3 + k), value: b * 10 + k })) } });
  const stored = async () => Number((await shared.db.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'CISO.demand'`))[0]!.n);

  function assertUnavailable(res: Awaited<ReturnType<typeof post>>, what: string) {
    assert.equal(res.statusCode, 503, `${what}: ${res.statusCode} ${res.body}`);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
    assert.equal(res.headers['retry-after'], String(UNAVAILABLE_RETRY_AFTER_S));
    const body = res.json();
    assert.equal(body.status, 503);
    assert.match(body.detail, /database/);
    assert.doesNotMatch(res.body, /ECONN|CONNECTION_|127\.0\.0\.1/, 'no driver detail leaks');
  }

  it('OpenAPI documents the 503 and its Retry-After on every operation that documents its errors', async () => {
    const doc = (await app.inject('/api/v1/openapi.json')).json<{ paths: Record<string, Record<string, { responses?: Record<string, { headers?: Record<string, unknown> }> }>> }>();
    const ops = Object.values(doc.paths).flatMap((p) => Object.values(p)).filter((op) => op.responses && Object.keys(op.responses).some((c) => /^4/.test(c)));
    assert.ok(ops.length > 50);
    const lacking = Object.entries(doc.paths).flatMap(([p, o]) => Object.entries(o).filter(([, op]) => ops.includes(op) && !op.responses!['503']?.headers?.['Retry-After']).map(([m]) => `${m} ${p}`));
    assert.deepEqual(lacking, []);
  });

  for (const mode of ['reset', 'blackhole'] as const) {
    it(`PostgreSQL cut (${mode}): POST and an uncached GET answer 503 with Retry-After; after it comes back, 200`, async () => {
      assert.equal((await post(mode === 'reset' ? 0 : 1)).statusCode, 200, 'the write goes through before the cut');
      const before = await stored();
      const batch = mode === 'reset' ? 100 : 200;
      proxy.mode = mode;
      proxy.cut();
      const t0 = Date.now();
      const write = await post(batch);
      assertUnavailable(write, 'POST while down');
      // blackhole: postgres.js gives up after its connect_timeout (5 s), well before a client's own timeout
      assert.ok(Date.now() - t0 < 15_000, `answered in ${Date.now() - t0} ms`);
      assertUnavailable(await app.inject({ method: 'GET', url: '/api/v1/bas/CISO/freshness' }), 'GET while down');
      assert.equal(await stored(), before, 'nothing of the refused write is stored');
      proxy.mode = 'pass';
      let res = await post(batch);
      for (let i = 0; i < 50 && res.statusCode !== 200; i++) { await new Promise((r) => setTimeout(r, 200)); res = await post(batch); }
      assert.equal(res.statusCode, 200, `back: ${res.body}`);
      assert.equal(await stored(), before + 3);
    });
  }
});
