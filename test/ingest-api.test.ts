import { openTestApp } from './support/app.ts';
import { pipelineFreshness, staleBas } from '../src/ingest/pipeline-freshness.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from './support/databases.ts';
import type { Db } from '../src/platform/db.ts';
import { createApiKey, listApiKeys, revokeApiKey } from '../src/auth/api-keys.ts';
import { PointStore } from '../src/ingest/store-points.ts';
import { startRun } from '../src/ingest/run-ledger.ts';
import { runQualityChecks } from '../src/ingest/check-runner.ts';

const H = (h: number) => new Date(Date.parse('2025-08-01T00:00Z') + h * 3_600_000).toISOString();

for (const target of testDatabases()) {
  describe(`ingestion API on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let token: string;
    const post = (rows: unknown, auth = `Bearer ${token}`) =>
      app.inject({ method: 'POST', url: '/api/v1/data/observations', headers: { authorization: auth }, payload: { rows } });
    const get = (url: string, auth = `Bearer ${token}`) => app.inject({ url, headers: { authorization: auth } });

    before(async () => {
      ({ db, app } = await openTestApp(target));
      token = (await createApiKey(db, { kind: 'worker', name: 'pi-garage' })).token;
    });
    after(async () => { await app.close(); await db.close(); });

    it('stores only a hash of a key, lists keys without secrets, and refuses missing, malformed, unknown and revoked keys with 401', async () => {
      const { key, token: other } = await createApiKey(db, { kind: 'worker' });
      assert.match(other, /^gp_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
      const stored = await db.query<{ secret_hash: string }>('SELECT secret_hash FROM api_keys WHERE id = $1', [key.id]);
      assert.equal(stored[0]!.secret_hash.length, 64);
      assert.ok(!JSON.stringify(stored).includes(other.slice(16)), 'the secret is not stored');
      assert.ok(!JSON.stringify(await listApiKeys(db)).includes(other.slice(16)));
      assert.equal((await get('/api/v1/data/latest?series=CISO.demand', `Bearer ${other}`)).statusCode, 200);
      const usedAt = async () => (await listApiKeys(db)).find((k) => k.id === key.id)!.lastUsedAt;
      const firstUse = await usedAt();
      assert.ok(firstUse !== null, 'a use is recorded');
      assert.equal((await get('/api/v1/data/latest?series=CISO.demand', `Bearer ${other}`)).statusCode, 200);
      assert.equal(await usedAt(), firstUse, 'kept to the minute: no write per request');
      await db.query(`UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, [key.id]);
      const older = await usedAt();
      assert.equal((await get('/api/v1/data/latest?series=CISO.demand', `Bearer ${other}`)).statusCode, 200);
      assert.equal(await usedAt(), older, 'this process recorded a use within the minute: no write, even a read, per request (a minute later: src/auth/api-key-state.test.ts)');
      for (const auth of ['', 'Basic abc', 'Bearer nope', // A, B, C, D differ only in the bits base64url leaves as padding in the last character: each must be refused.
        ...['A', 'B', 'C', 'D', 'E'].filter((c) => !other.endsWith(c)).map((c) => `Bearer ${other.slice(0, -1)}${c}`), `Bearer gp_000000000000_${other.slice(16)}`]) {
        const res = await get('/api/v1/data/latest?series=CISO.demand', auth);
        assert.equal(res.statusCode, 401, auth);
        assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
        assert.match(res.headers['www-authenticate'] as string, /^Bearer realm="gridpulse"/);
        assert.deepEqual({ ...res.json<Record<string, unknown>>(), detail: '' }, { type: 'about:blank', title: 'Unauthorized', status: 401, detail: '', field: 'authorization' });
      }
      assert.equal(await revokeApiKey(db, key.id), true);
      assert.equal(await revokeApiKey(db, key.id), false);
      const revoked = await post([{ ba: 'CISO', type: 'demand', ts: H(0), value: 1 }], `Bearer ${other}`);
      assert.equal(revoked.statusCode, 401);
      assert.match(revoked.headers['www-authenticate'] as string, /error="invalid_token"/);
      const [n] = await db.query<{ n: number }>('SELECT count(*)::integer AS n FROM observations');
      assert.equal(n!.n, 0, 'nothing written without a valid key');
    });

    it('upserts the good rows of a batch and lists each bad row with its index, field and message', async () => {
      await new PointStore(db, pino({ level: 'silent' })).store([{ route: 'region', ba: 'PJM', code: 'D', ts: new Date(H(0)), value: 90000 }]);
      const rows = [
        { ba: 'CISO', type: 'demand', ts: H(0), value: 21000 },                       // 0 ok (creates CISO.demand, external)
        { series: 'CISO.demand', ts: H(1), value: 21500, quality: 'estimated' },    // 1 ok by key
        { ba: 'CISO', type: 'generation_by_fuel', subtype: 'SUN', ts: H(1), value: null }, // 2 ok → missing
        { ba: 'CISO', type: 'demand', ts: '2025-08-01T00:30:00Z', value: 1 },        // 3 ts not an hour start
        { ba: 'NOPE', type: 'demand', ts: H(0), value: 1 },                         // 4 unknown BA
        { series: 'XXX.demand', ts: H(0), value: 1 },                                // 5 unknown series
        { ba: 'CISO', type: 'demand', ts: H(0), value: '12' },                       // 6 value not a number
        { ts: H(0), value: 1 },                                                      // 7 no series
        { ba: 'CISO', type: 'demand', ts: H(0), value: 5 },                          // 8 same series and hour as 0, another value: both refused
        { series: 'PJM.demand', ts: H(1), value: 1 },                                // 9 EIA series
        { ba: 'CISO', type: 'sunshine', ts: H(0), value: 1 },                        // 10 bad type
        'not an object',                                                             // 11
        { ba: 'CISO', type: 'demand', ts: H(2), value: -40 },                        // 12 ok, negative demand → anomalous
        { ba: 'CISO', type: 'demand', ts: H(3).replace(/(:00)?(\.000)?Z$/, ''), value: 1 }, // 13 no zone: refused, not read as local time
      ];
      const res = await post(rows);
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.deepEqual([body.received, body.accepted, body.inserted, body.updated, body.rejected, body.duplicates, body.conflicting], [14, 3, 3, 0, 11, 0, 2]);
      assert.deepEqual(body.errors.map((e: { index: number; field: string }) => [e.index, e.field]),
        [[0, 'value'], [3, 'ts'], [4, 'ba'], [5, 'series'], [6, 'value'], [7, 'series'], [8, 'value'], [9, 'series'], [10, 'type'], [11, 'row'], [13, 'ts']]);
      assert.match(body.errors[10].message, /with its zone/);
      assert.match(body.errors[1].message, /start of an hour/);
      assert.match(body.errors[7].message, /fed by eia/);
      assert.match(body.errors[0].message, /conflicting values for CISO\.demand at 2025-08-01T00:00:00\.000Z: 21000 \(good, row 0\), 5 \(good, row 8\)/);
      const stored = await db.query<{ key: string; ts: Date; value: number | null; quality: number; source: string }>(
        `SELECT s.key, o.ts, o.value, o.quality, s.source FROM observations o JOIN series s ON s.id = o.series_id WHERE s.ba_code = 'CISO' ORDER BY 1, 2`);
      assert.deepEqual(stored.map((r) => [r.key, new Date(r.ts).toISOString(), r.value, r.quality, r.source]), [
        ['CISO.demand', H(1), 21500, 1, 'external'], ['CISO.demand', H(2), -40, 3, 'external'],
        ['CISO.fuel.SUN', H(1), null, 2, 'external'],
      ]);
      const [run] = await db.query<{ kind: string; source: string; rows_inserted: number; rows_rejected: number }>(
        'SELECT kind, source, rows_inserted, rows_rejected FROM ingest_runs WHERE id = $1', [body.runId]);
      assert.deepEqual({ ...run }, { kind: 'api', source: 'external', rows_inserted: 3, rows_rejected: 11 });
      // re-sending changes nothing but the hour refused before, now sent once; a new value is one update
      const again = (await post(rows.slice(0, 3))).json();
      assert.deepEqual([again.inserted, again.updated, again.rejected], [1, 0, 0]);
      const revised = (await post([{ series: 'CISO.demand', ts: H(1), value: 21600 }])).json();
      assert.deepEqual([revised.inserted, revised.updated], [0, 1]);
    });

    it('a batch repeating a series and hour: exact repeats stored once, conflicting values refused, counted, in the ledger and at /pipeline/checks', async () => {
      const rows = [
        { ba: 'MISO', type: 'demand', ts: H(10), value: 70000 },                      // 0 kept once
        { series: 'MISO.demand', ts: H(10), value: 70000 },                           // 1 exact repeat of 0 (by key): a duplicate, not rejected
        { ba: 'MISO', type: 'demand', ts: H(11), value: 71000 },                      // 2 conflict with 4 and 5
        { ba: 'MISO', type: 'demand', ts: H(12), value: 72000 },                      // 3 ok
        { ba: 'MISO', type: 'demand', ts: H(11), value: 71500 },                      // 4
        { ba: 'MISO', type: 'demand', ts: H(11), value: 71000 },                      // 5 same as 2, but the hour disagrees: refused too
        { ba: 'MISO', type: 'demand', ts: H(12), value: 72000, quality: 'estimated' }, // 6 same value, another quality: a conflict
      ];
      await post([{ ba: 'MISO', type: 'demand', ts: H(11), value: 60000 }]);
      const res = await post(rows);
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.deepEqual([body.received, body.accepted, body.inserted, body.updated, body.rejected, body.duplicates, body.conflicting], [7, 1, 1, 0, 5, 1, 5]);
      assert.deepEqual(body.errors.map((e: { index: number; field: string }) => [e.index, e.field]), [[2, 'value'], [3, 'value'], [4, 'value'], [5, 'value'], [6, 'value']]);
      assert.match(body.errors[0].message, /MISO\.demand at 2025-08-01T11:00:00\.000Z: 71000 \(good, row 2\), 71500 \(good, row 4\), 71000 \(good, row 5\)/);
      const stored = await db.query<{ ts: Date; value: number }>(`SELECT o.ts, o.value FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'MISO.demand' ORDER BY 1`);
      assert.deepEqual(stored.map((r) => [new Date(r.ts).toISOString(), Number(r.value)]), [[H(10), 70000], [H(11), 60000]], 'the refused hour keeps its stored value');
      const runs = (await app.inject('/api/v1/pipeline/runs?limit=1')).json().data;
      assert.deepEqual([runs[0].id, runs[0].rowsRejected, runs[0].rowsDuplicate, runs[0].rowsConflicting, runs[0].rejections],
        [body.runId, 5, 1, 5, { 'conflicting values for one series and hour in one batch': 5 }]);
      const checks = (await app.inject(`/api/v1/pipeline/checks?run=${body.runId}&check=conflicting_duplicate`)).json().data;
      assert.deepEqual(checks.map((c: { ba: string; series: string; from: string; to: string; count: number; severity: string }) => [c.ba, c.series, c.from, c.to, c.count, c.severity]),
        [['MISO', 'MISO.demand', H(11), H(12), 2, 'error']]);
      assert.deepEqual(checks[0].detail, { choice: 'refused', hours: [
        { hour: H(11), values: [71000, 71500, 71000], qualities: ['good', 'good', 'good'] },
        { hour: H(12), values: [72000, 72000], qualities: ['good', 'estimated'] },
      ] });
    });

    it('refuses whole batches that are too large (413) or malformed (400)', async () => {
      const big = Array.from({ length: 10_001 }, (_, i) => ({ ba: 'CISO', type: 'forecast', ts: H(i % 24), value: i }));
      const res = await post(big);
      assert.equal(res.statusCode, 413);
      assert.match(res.headers['content-type'] as string, /application\/problem\+json/);
      assert.deepEqual(res.json(), { type: 'about:blank', title: 'Payload Too Large', status: 413, detail: 'rows: 10001 rows; a batch takes at most 10000 (split it)', field: 'rows' });
      for (const payload of [{ rows: [] }, { rows: 'x' }, { data: [] }]) {
        const bad = await app.inject({ method: 'POST', url: '/api/v1/data/observations', headers: { authorization: `Bearer ${token}` }, payload });
        assert.equal(bad.statusCode, 400, JSON.stringify(payload));
        assert.match(bad.json().detail, /rows/);
      }
      const [n] = await db.query<{ n: number }>(`SELECT count(*)::integer AS n FROM observations o JOIN series s ON s.id = o.series_id WHERE s.type = 'forecast'`);
      assert.equal(n!.n, 0);
    });

    it('serves the newest hour of one or several series', async () => {
      const one = await get('/api/v1/data/series/CISO.demand/latest');
      assert.equal(one.statusCode, 200);
      assert.deepEqual({ ...one.json().data, id: 0, ingestedAt: null }, {
        series: 'CISO.demand', id: 0, ba: 'CISO', type: 'demand', subtype: '', units: 'MWh', source: 'external',
        ts: H(2), value: -40, quality: 'anomalous', ingestedAt: null,
      });
      const byId = await get(`/api/v1/data/series/${one.json().data.id}/latest`);
      assert.equal(byId.json().data.series, 'CISO.demand');
      const missing = await get('/api/v1/data/series/NOPE.demand/latest');
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().field, 'id');
      const many = await get('/api/v1/data/latest?series=CISO.demand,PJM.demand,NOPE.x');
      assert.deepEqual(many.json().data.map((d: { series: string; ts: string }) => [d.series, d.ts]), [['CISO.demand', H(2)], ['PJM.demand', H(0)]]);
      assert.deepEqual(many.json().unknown, ['NOPE.x']);
      assert.equal((await get('/api/v1/data/latest?series=')).statusCode, 400);
      // ids past the integer range name no series: 404 / unknown, not a failed query
      assert.equal((await get('/api/v1/data/series/99999999999/latest')).statusCode, 404);
      const huge = await get('/api/v1/data/latest?series=CISO.demand,2147483648');
      assert.equal(huge.statusCode, 200);
      assert.deepEqual(huge.json().unknown, ['2147483648']);
    });

    it('pages quality check findings and filters them by run, BA and check', async () => {
      const store = new PointStore(db, pino({ level: 'silent' }));
      const points = Array.from({ length: 40 }, (_, h) => ({ route: 'region' as const, ba: 'ERCO', code: 'D', ts: new Date(H(100 + h)), value: h === 30 ? 1e6 : 40000 + (h % 5) * 10 }));
      await store.store(points);
      const runId = await startRun(db, 'checks', 'checks', {});
      await runQualityChecks({ db, logger: pino({ level: 'silent' }) }, { bas: ['ERCO'], from: new Date(H(124)), to: new Date(H(139)), runId });
      const res = await app.inject(`/api/v1/pipeline/checks?run=${runId}&ba=erco&check=spike`);
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json().data.map((f: { series: string; from: string; count: number }) => [f.series, f.from, f.count]), [['ERCO.demand', H(130), 1]]);
      const paged = await app.inject('/api/v1/pipeline/checks?limit=1');
      assert.equal(paged.json().data.length, 1);
      assert.equal(typeof paged.json().next === 'number' || paged.json().next === null, true);
      const bad = await app.inject('/api/v1/pipeline/checks?check=nope');
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().detail, /check/);
    });

    it('shows the backfill queue and per-route freshness', async () => {
      await db.query(`INSERT INTO backfill_jobs (ba_code, route, source, ts_from, ts_to, status, attempts) VALUES
        ('ERCO', 'region', 'eia', $1, $2, 'done', 1), ('ERCO', 'fuel', 'eia', $1, $1, 'queued', 0)`, [H(3), H(5)]);
      const queued = (await app.inject('/api/v1/pipeline/backfills?status=queued')).json();
      assert.deepEqual(queued.data.map((j: { ba: string; route: string; from: string; to: string; attempts: number }) => [j.ba, j.route, j.from, j.to, j.attempts]), [['ERCO', 'fuel', H(3), H(3), 0]]);
      assert.equal((await app.inject('/api/v1/pipeline/backfills?status=lost')).statusCode, 400);
      const fresh = (await app.inject('/api/v1/pipeline/freshness')).json().data as Array<{ ba: string; route: string; type: string; newest: string }>;
      assert.deepEqual(fresh.filter((f) => f.ba === 'CISO').map((f) => [f.route, f.type, f.newest]),
        [['region', 'demand', H(2)], ['fuel', 'generation_by_fuel', H(1)]]);
      // Demand is expected an hour after its hour ends: fresh to 150 min, late to 300 min, then stale.
      const demandAt = async (minutesAfterHourEnd: number) => {
        const rows = await pipelineFreshness(db, new Date(Date.parse(H(2)) + 3_600_000 + minutesAfterHourEnd * 60_000));
        const row = rows.find((f) => f.ba === 'CISO' && f.type === 'demand')!;
        return [row.lagMinutes, row.expectedLagMinutes, row.status];
      };
      assert.deepEqual(await demandAt(150), [150, 60, 'fresh']);
      assert.deepEqual(await demandAt(151), [151, 60, 'late']);
      assert.deepEqual(await demandAt(301), [301, 60, 'stale']);
      const staleAt = (minutes: number) => staleBas(db, new Date(Date.parse(H(2)) + 3_600_000 + minutes * 60_000));
      assert.ok(!(await staleAt(150)).includes('CISO'));
      assert.ok((await staleAt(301)).includes('CISO'));
    });

    it('documents the data API in OpenAPI', async () => {
      const doc = (await app.inject('/api/v1/openapi.json')).json();
      const postDoc = doc.paths['/api/v1/data/observations'].post;
      assert.match(postDoc.description, /Partial success/);
      assert.ok(doc.paths['/api/v1/data/series/{id}/latest']);
      assert.ok(doc.paths['/api/v1/pipeline/checks']);
    });
  });
}
