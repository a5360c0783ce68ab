import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { parse } from 'csv-parse/sync';
import { testDatabases } from './support/databases.ts';
import { signIn, type SignedIn } from './support/auth.ts';
import { buildApp } from '../src/app.ts';
import { memoryCache } from '../src/platform/cache.ts';
import { migrate } from '../src/platform/migrate.ts';
import type { Db } from '../src/platform/db.ts';

const view = { name: 'West', page: 'compare', bas: ['CISO', 'BPAT'], range: { kind: 'relative', last: 'P7D' }, charts: ['demand'] };
const alert = { name: 'CISO clean', rule: { kind: 'intensity_below', ba: 'CISO', thresholdGPerKwh: 150 }, webhookUrl: 'http://127.0.0.1:9999/hook' };

/** Every jsonb column of the test's schema, found in information_schema (a column added later is covered without a change here). */
async function jsonbColumns(db: Db): Promise<Array<{ table_name: string; column_name: string }>> {
  return db.query(`SELECT c.table_name, c.column_name FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
    WHERE c.data_type = 'jsonb' AND c.table_schema = current_schema() ORDER BY 1, 2`);
}

for (const target of testDatabases()) {
  describe(`stored values and exports on ${target.name} (issue 12: 2, 5)`, () => {
    let db: Db;
    let app: FastifyInstance;
    let admin: SignedIn;
    before(async () => {
      db = await target.open();
      await migrate(db);
      app = await buildApp({ db, logger: pino({ level: 'silent' }), cache: memoryCache(), webhookPolicy: { allowPrivate: true } });
      admin = await signIn(app, db, 'admin');
    });
    after(async () => { await app.close(); await db.close(); });

    it('after the writers ran, no jsonb column of the schema holds a top-level string (objects stay objects on both stores)', async () => {
      const analyst = await signIn(app, db, 'analyst');
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: analyst.headers, payload: view })).statusCode, 201);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/me/alerts', headers: analyst.headers, payload: alert })).statusCode, 201);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '198.19.7.7', payload: { email: analyst.email, password: 'wrong-password-1' } })).statusCode, 401);
      assert.equal((await app.inject({ method: 'POST', url: '/api/v1/me/keys', headers: analyst.headers, payload: { name: 'k', scopes: ['me:read'] } })).statusCode, 201);
      const cols = await jsonbColumns(db);
      for (const c of ['audit_log.detail', 'signing_keys.public_jwk', 'signing_keys.private_jwk', 'saved_views.range', 'alerts.rule']) {
        assert.ok(cols.some((x) => `${x.table_name}.${x.column_name}` === c), `${c} is a jsonb column found by the walk`);
      }
      const [written] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE detail IS NOT NULL`);
      assert.ok(written!.n > 0, 'the writers left audit details to check');
      const strings: string[] = [];
      for (const { table_name: t, column_name: c } of cols) {
        const [r] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${t}" WHERE jsonb_typeof("${c}") = 'string'`);
        if (r!.n > 0) strings.push(`${t}.${c}: ${r!.n}`);
      }
      assert.deepEqual(strings, [], 'jsonb columns holding strings');
      const [jwk] = await db.query<{ kty: string | null }>(`SELECT public_jwk->>'kty' AS kty FROM signing_keys LIMIT 1`);
      assert.ok(jwk?.kty, 'public_jwk->>kty reads through the object');
    });

    it('migration 0044 turns a stored JSON-text string back into its object in every jsonb column, audit_log included, and the audit log stays append-only', async () => {
      await db.query(`INSERT INTO audit_log (actor_kind, action, outcome, detail) VALUES ('system', 'test.repair', 'success', $1::text::jsonb)`, [JSON.stringify(JSON.stringify({ reason: 'r' }))]);
      await db.query(`INSERT INTO audit_log (actor_kind, action, outcome, detail) VALUES ('system', 'test.plain', 'success', $1::text::jsonb)`, [JSON.stringify('just text')]);
      await db.transaction(async (tx) => { await tx.query(readFileSync(new URL('../migrations/0044_jsonb_objects.sql', import.meta.url), 'utf8')); });
      const rows = [...await db.query<{ action: string; t: string; reason: string | null }>(`SELECT action, jsonb_typeof(detail) AS t, detail->>'reason' AS reason FROM audit_log WHERE action LIKE 'test.%' ORDER BY id`)];
      assert.deepEqual(rows, [{ action: 'test.repair', t: 'object', reason: 'r' }, { action: 'test.plain', t: 'string', reason: null }]);
      await assert.rejects(db.query(`UPDATE audit_log SET action = 'x' WHERE action = 'test.plain'`), /append-only/);
    });

    it('the audit CSV export neutralises formula-like text (an e-mail "=cmd|…" tried at sign-in) and keeps numbers as numbers', async () => {
      const evil = ["=cmd|' /C calc'!A0", '+1+1@example.org', '@SUM(1+1)*cmd@example.org', '-2+3@example.org'];
      for (const email of evil) await app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: '198.19.8.8', payload: { email, password: 'whatever-password' } });
      const res = await app.inject({ url: '/api/v1/admin/audit?format=csv&limit=5000', headers: admin.headers });
      assert.equal(res.statusCode, 200, res.body);
      const rows = parse(res.body, { columns: true }) as Array<Record<string, string>>;
      const cells = rows.flatMap((r) => Object.values(r));
      assert.ok(cells.length > 0);
      for (const c of cells) assert.ok(!/^[=+\-@\t\r]/.test(c), `a cell starts a formula: ${JSON.stringify(c)}`);
      for (const email of evil) assert.ok(cells.some((c) => c === `'${email.toLowerCase()}` || c === `'${email}`), `${email} is kept after an apostrophe`);
      assert.ok(rows.every((r) => /^\d+$/.test(r.id!)), 'ids stay numbers');
    });
  });
}
