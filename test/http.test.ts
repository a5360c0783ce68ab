import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync, brotliDecompressSync } from 'node:zlib';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { pino } from 'pino';
import { openTestApp } from './support/app.ts';
import { testDatabases } from './support/databases.ts';
import type { Db } from '../src/platform/db.ts';
import { createApiKey } from '../src/auth/api-keys.ts';
import { getBa } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../src/ingest/simulated-grid.ts';
import { controlCharacterPath } from '../src/platform/input-guard.ts';
import { HttpProblem, problemOf, UNAVAILABLE_RETRY_AFTER_S } from '../src/platform/problem.ts';
import { openPgliteThread } from '../src/platform/pglite-thread.ts';

const HOUR = 3_600_000;
const PROBLEM = /^application\/problem\+json/;

/** One raw HTTP request on a real socket (what app.inject cannot show: Node's own parser limits). */
function rawGet(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
        if (res.headers['content-type']?.startsWith('text/event-stream')) { req.destroy(); resolve({ status: res.statusCode!, headers: res.headers, body }); }
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

describe('the one error mapper', () => {
  it('names the request part at fault in every framework 4xx and hides every 5xx', () => {
    const framework = (code: string, statusCode: number, message = 'x') => Object.assign(new Error(message), { code, statusCode });
    assert.deepEqual(problemOf(framework('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).field, 'content-type');
    assert.deepEqual(problemOf(framework('FST_ERR_CTP_INVALID_JSON_BODY', 400)).field, 'body');
    assert.deepEqual(problemOf(framework('FST_ERR_CTP_EMPTY_JSON_BODY', 400)).field, 'body');
    assert.deepEqual(problemOf(framework('FST_ERR_CTP_BODY_TOO_LARGE', 413)).field, 'body');
    assert.deepEqual(problemOf(framework('FST_ERR_BAD_URL', 400)).field, 'url');
    assert.deepEqual(problemOf(new HttpProblem(404, 'unknown', 'code')), { status: 404, detail: 'unknown', field: 'code' });
    assert.deepEqual(problemOf(Object.assign(new Error('password=hunter2 at db'), { statusCode: 503 })), { status: 503, detail: 'internal error' });
    assert.deepEqual(problemOf(new Error('relation "x" does not exist')), { status: 500, detail: 'internal error' });
    assert.deepEqual(problemOf('thrown string'), { status: 500, detail: 'internal error' });
  });

  it('answers 503 with Retry-After for every error that says the database cannot be reached, and 500 for the rest', () => {
    const err = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, ...extra });
    const unavailable = { status: 503, detail: problemOf(err('ECONNREFUSED')).detail, retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S };
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT', '08006', '08001', '57P01', '57P02', '57P03', '53300']) {
      assert.deepEqual(problemOf(err(code)), unavailable, code);
    }
    assert.deepEqual(problemOf(err('XX000', { severity: 'FATAL' })), unavailable, 'a FATAL from the server');
    assert.deepEqual(problemOf(new Error('cannot reach DATABASE_URL', { cause: err('ECONNREFUSED') })), unavailable, 'wrapped: the cause chain is read');
    assert.doesNotMatch(unavailable.detail, /ECONN|5432/, 'the driver message is not shown');
    // refused statements, files and programming errors stay internal errors
    for (const code of ['23505', '42P01', '22P02', '40001', '57014', 'ENOENT', 'EACCES', 'ERR_INVALID_ARG_TYPE']) {
      assert.deepEqual(problemOf(err(code, { severity: 'ERROR' })), { status: 500, detail: 'internal error' }, code);
    }
    // any SQLSTATE outside classes 08, 57P01-03 and 53300 is not a lost database
    fc.assert(fc.property(fc.stringMatching(/^[0-9A-Z]{5}$/), (code) =>
      (problemOf(err(code, { severity: 'ERROR' })).status === 503) === (/^08/.test(code) || /^57P0[123]$/.test(code) || code === '53300')));
  });

  it('answers 503 with Retry-After, not 500, once the embedded store\'s thread has stopped', async () => {
    const store = await openPgliteThread(null);
    await store.close();
    const err = await store.query('SELECT 1').then(() => undefined, (e: unknown) => e);
    assert.ok(err, 'a closed store refuses the query');
    assert.deepEqual(problemOf(err), { status: 503, detail: problemOf(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).detail, retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_S });
  });

  it('finds the path of the first control character anywhere in a value, and none in clean values', () => {
    assert.equal(controlCharacterPath({ location: 'CISO' }), undefined);
    assert.equal(controlCharacterPath({ location: '\u0000' }), 'location');
    assert.equal(controlCharacterPath([{ location: 'CISO' }, { location: 'a\u001fb' }]), '1/location');
    assert.equal(controlCharacterPath({ rows: [{ series: 'ok' }, { series: 'x\u007f' }] }), 'rows/1/series');
    assert.equal(controlCharacterPath({ q: '\u0085' }), 'q'); // C1 (NEL)
    assert.equal(controlCharacterPath({ q: ['a', 'b\n'] }), 'q/1');
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }).filter((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s)), (s) => controlCharacterPath({ a: [s, { b: s }] }) === undefined)); // eslint-disable-line no-control-regex
    fc.assert(fc.property(fc.string({ maxLength: 10 }), fc.integer({ min: 0, max: 0x1f }), fc.string({ maxLength: 10 }), (a, c, b) =>
      controlCharacterPath({ list: [{ field: a + String.fromCharCode(c) + b }] }) === 'list/0/field'));
  });
});

for (const target of testDatabases()) {
  describe(`HTTP details on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let port: number;
    let token: string;
    before(async () => {
      ({ db, app } = await openTestApp(target));
      const end = Math.floor(Date.now() / HOUR) * HOUR;
      await loadSimulatedGrid({ db, logger: pino({ level: 'silent' }) }, [(await getBa(db, 'CISO'))!], new Date(end - 24 * HOUR), 24);
      token = (await createApiKey(db, { kind: 'worker', name: 'http-test' })).token;
      await app.listen({ port: 0, host: '127.0.0.1' });
      const addr = app.server.address();
      port = typeof addr === 'object' && addr ? addr.port : 0;
    });
    after(async () => { await app.close(); await db.close(); });

    it('refuses a NUL or other control character in any query, path or body field with a 400 naming it (never a 500)', async () => {
      const json = { 'content-type': 'application/json' };
      const cases: Array<[InjectOptions, string]> = [
        [{ url: '/api/v1/observations?series=%00&from=2025-01-01&to=2025-01-02' }, 'series'],
        [{ url: '/api/v1/observations?series=CISO.demand%00&from=2025-01-01&to=2025-01-02' }, 'series'],
        [{ url: '/api/v1/observations?series=CISO.demand&from=2025-01-01%0A&to=2025-01-02' }, 'from'],
        [{ url: '/api/v1/emissions/bylocation?location=%00' }, 'location'],
        [{ url: '/api/v1/emissions/forecasts/current?location=CISO%1B' }, 'location'],
        [{ url: '/api/v1/series?ba=CI%09SO' }, 'ba'],
        [{ url: '/api/v1/bas/CI%00SO/now' }, 'code'],
        [{ url: '/api/v1/data/series/CISO.demand%00/latest', headers: { authorization: `Bearer ${token}` } }, 'id'],
        [{ url: '/api/v1/data/latest?series=CISO.demand%00', headers: { authorization: `Bearer ${token}` } }, 'series'],
        [{ method: 'POST', url: '/api/v1/emissions/average-carbon-intensity/batch', headers: json, payload: '[{"location":"\\u0000"}]' }, '0/location'],
        [{ method: 'POST', url: '/api/v1/emissions/average-carbon-intensity/batch', headers: json, payload: '[{"location":"CISO","startTime":"2025-01-01T00:00Z","endTime":"2025-01-02T00:00Z"},{"location":"\\u0000","startTime":"2025-01-01T00:00Z","endTime":"2025-01-02T00:00Z"}]' }, '1/location'],
        [{ method: 'POST', url: '/api/v1/emissions/forecasts/batch', headers: json, payload: '[{"location":"CISO\\u0000","requestedAt":"2025-01-01T00:00Z"}]' }, '0/location'],
      ];
      for (const [req, field] of cases) {
        const res = await app.inject(req);
        assert.equal(res.statusCode, 400, `${String(req.url)}: ${res.body}`);
        assert.match(res.headers['content-type'] as string, PROBLEM);
        assert.equal(res.json().field, field, String(req.url));
        assert.match(res.json().detail, /control characters/);
      }
    });

    it('lists a data-API row with a control character as that row\'s error and stores the good rows (partial success)', async () => {
      const ts = new Date(Math.floor(Date.now() / HOUR) * HOUR - 72 * HOUR).toISOString();
      const res = await app.inject({
        method: 'POST', url: '/api/v1/data/observations', headers: { authorization: `Bearer ${token}` },
        payload: { rows: [{ ba: 'ERCO', type: 'demand', ts, value: 1000 }, { series: 'CISO.demand\u0000', ts, value: 1 }] },
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.accepted, 1);
      assert.deepEqual(body.errors.map((e: { index: number; field: string }) => [e.index, e.field]), [[1, 'series']]);
    });

    it('answers a wrong method with 405 and Allow listing the route\'s methods; an unknown path stays 404', async () => {
      for (const [method, url, allow] of [
        ['DELETE', '/api/v1/bas', 'GET, HEAD'], ['POST', '/api/v1/bas/CISO/now?x=1', 'GET, HEAD'], ['PUT', '/api/v1/observations', 'GET, HEAD'],
        ['GET', '/api/v1/emissions/forecasts/batch', 'POST'], ['DELETE', '/api/v1/data/observations', 'POST'], ['PATCH', '/metrics', 'GET, HEAD'],
      ] as const) {
        const res = await app.inject({ method, url });
        assert.equal(res.statusCode, 405, `${method} ${url}`);
        assert.equal(res.headers.allow, allow, `${method} ${url}`);
        assert.match(res.headers['content-type'] as string, PROBLEM);
        assert.equal(res.json().field, 'method');
      }
      for (const [method, url] of [['GET', '/api/v1/nope'], ['DELETE', '/api/v1/nope'], ['POST', '/docs/nope/deeper']] as const) {
        const res = await app.inject({ method, url });
        assert.equal(res.statusCode, 404, `${method} ${url}`);
        assert.equal(res.headers.allow, undefined);
        assert.match(res.headers['content-type'] as string, PROBLEM);
      }
    });

    it('mirrors GET for HEAD: same status and headers, no body', async () => {
      for (const url of ['/api/v1/bas', '/api/v1/bas/NOPE', '/api/v1/now']) {
        const [get, head] = [await app.inject(url), await app.inject({ method: 'HEAD', url })];
        assert.equal(head.statusCode, get.statusCode, url);
        assert.equal(head.headers['content-type'], get.headers['content-type'], url);
        assert.equal(head.body, '', url);
      }
    });

    it('answers an over-long URL with 431 problem+json, and a malformed URL with 400 problem+json naming it', async () => {
      const long = await rawGet(port, `/api/v1/bas?x=${'a'.repeat(16 * 1024)}`);
      assert.equal(long.status, 431);
      assert.match(long.headers['content-type']!, PROBLEM);
      assert.equal(JSON.parse(long.body).status, 431);
      const bad = await rawGet(port, '/api/v1/bas/%E0%A4%A');
      assert.equal(bad.status, 400);
      assert.match(bad.headers['content-type']!, PROBLEM);
      assert.equal(JSON.parse(bad.body).field, 'url');
    });

    it('names the field in every 400 a body can cause before the schema sees it', async () => {
      const url = '/api/v1/emissions/average-carbon-intensity/batch';
      for (const [headers, payload, status, field] of [
        [{ 'content-type': 'application/json' }, '{bad', 400, 'body'],
        [{ 'content-type': 'application/json' }, '', 400, 'body'],
        [{ 'content-type': 'application/json' }, '{"location":"CISO"}', 400, 'body'],
        [{ 'content-type': 'application/xml' }, '<a/>', 415, 'content-type'],
      ] as const) {
        const res = await app.inject({ method: 'POST', url, headers, payload });
        assert.equal(res.statusCode, status, payload);
        assert.match(res.headers['content-type'] as string, PROBLEM);
        assert.equal(res.json().field, field, payload);
        assert.ok(res.json().detail.startsWith(`${field}:`), res.json().detail);
      }
    });

    it('compresses the API for clients that accept gzip or brotli, and sends the same JSON', async () => {
      const plain = await app.inject('/api/v1/now');
      assert.equal(plain.headers['content-encoding'], undefined);
      assert.ok(plain.rawPayload.length > 1024, `${plain.rawPayload.length} bytes`);
      const gzip = await app.inject({ url: '/api/v1/now', headers: { 'accept-encoding': 'gzip' } });
      assert.equal(gzip.headers['content-encoding'], 'gzip');
      assert.deepEqual(JSON.parse(gunzipSync(gzip.rawPayload).toString()).data, plain.json().data);
      const br = await app.inject({ url: '/api/v1/now', headers: { 'accept-encoding': 'gzip, deflate, br' } });
      assert.equal(br.headers['content-encoding'], 'br');
      assert.deepEqual(JSON.parse(brotliDecompressSync(br.rawPayload).toString()).data, plain.json().data);
      assert.ok(br.rawPayload.length * 3 < plain.rawPayload.length, `${br.rawPayload.length} vs ${plain.rawPayload.length} bytes`);
    });

    it('lets any origin read the public GET routes (no credentials) and answers their preflight', async () => {
      const origin = 'https://dashboard.example';
      const doc = (await app.inject('/api/v1/openapi.json')).json<{ paths: Record<string, Record<string, { security?: unknown[] }>> }>();
      const publicGets = Object.entries(doc.paths).filter(([, ops]) => ops.get && !ops.get.security).map(([p]) => p.replace('{code}', 'CISO'))
        .filter((p) => p !== '/api/v1/live'); // an endless stream: read on a socket below
      assert.ok(publicGets.length > 20, `${publicGets.length} public GET routes`);
      for (const path of publicGets) {
        const res = await app.inject({ url: path, headers: { origin } });
        assert.equal(res.headers['access-control-allow-origin'], '*', path);
        assert.equal(res.headers['access-control-allow-credentials'], undefined, path);
        const pre = await app.inject({ method: 'OPTIONS', url: path, headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'accept' } });
        assert.equal(pre.statusCode, 204, path);
        assert.equal(pre.headers['access-control-allow-origin'], '*', path);
        assert.match(pre.headers['access-control-allow-methods'] as string, /^GET, ?HEAD$/, path);
        assert.equal(pre.headers['access-control-allow-credentials'], undefined, path);
      }
      // A live stream is written past Fastify (hijacked): the header must still be there.
      const live = await rawGet(port, '/api/v1/live?ba=CISO', { origin });
      assert.equal(live.headers['access-control-allow-origin'], '*');
    });

    it('gives keyed, state-changing and operator routes no CORS at all, and refuses their preflight', async () => {
      const evil = 'https://evil.example';
      const auth = { authorization: `Bearer ${token}` };
      for (const [method, url, headers] of [
        ['GET', '/api/v1/data/latest?series=CISO.demand', auth], ['GET', '/api/v1/data/series/CISO.demand/latest', auth],
        ['POST', '/api/v1/data/observations', auth], ['GET', '/metrics', {}],
      ] as const) {
        const res = await app.inject({ method, url, headers: { ...headers, origin: evil } });
        assert.equal(res.headers['access-control-allow-origin'], undefined, url);
        const pre = await app.inject({ method: 'OPTIONS', url, headers: { origin: evil, 'access-control-request-method': method, 'access-control-request-headers': 'authorization' } });
        assert.ok(pre.statusCode >= 400, `${url} preflight ${pre.statusCode}`);
        assert.equal(pre.headers['access-control-allow-origin'], undefined, url);
        assert.equal(pre.headers['access-control-allow-methods'], undefined, url);
        assert.match(pre.headers['content-type'] as string, PROBLEM);
      }
      // A preflight asking to POST to a public GET route is refused too: only reads are shared.
      const post = await app.inject({ method: 'OPTIONS', url: '/api/v1/bas', headers: { origin: evil, 'access-control-request-method': 'POST' } });
      assert.equal(post.headers['access-control-allow-origin'], undefined);
    });
  });
}
