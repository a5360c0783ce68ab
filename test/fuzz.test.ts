import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { openTestApp } from './support/app.ts';
import { testDatabases } from './support/databases.ts';
import type { Db } from '../src/platform/db.ts';
import { createApiKey } from '../src/auth/api-keys.ts';
import { signIn } from './support/auth.ts';
import { fillPath } from './support/route-walk.ts';
import { getBa } from '../src/grid/ba-repository.ts';
import { loadSimulatedGrid } from '../src/ingest/simulated-grid.ts';

/**
 * Property-based fuzz of every GET route in the OpenAPI document: hostile query and path values (control
 * characters, huge and malformed numbers, the year 0000, impossible calendar dates, odd spacing, long
 * strings) must never give a 5xx, and every 4xx must be application/problem+json naming its status.
 */

const HOUR = 3_600_000;
const RUNS = Number(process.env.FUZZ_RUNS ?? 40);

interface Param { name: string; in: 'query' | 'path'; required?: boolean; schema?: { type?: string; enum?: string[] } }
interface Operation { parameters?: Param[]; security?: unknown[] }

// Values that broke, or could break, a parser, a schema or the database behind it.
const HOSTILE = [
  '\u0000', 'CISO\u0000', '\u0001', '\t', '\n', '\r\n', '\u001b[31m', '\u007f', '\u0085', '\ud800', 'é', '😀',
  '', ' ', ' 5', '5 ', '0x10', '1e3', '1e308', '-1e308', '9'.repeat(40), '-1', '0', '1.5', 'NaN', 'Infinity', '-0', '+5',
  '9999-12-31', '2026-02-30', '2026-11-31',
  '2025-13-01', '2025-00-10', '2025-8-1', '2025-08-01T24:00Z', '2025-08-01T17:00', '2025-08-01T17:00+99:00', 'garbage',
  'PT0H', 'PT9999999H', 'P-1D', 'true', 'null', '[]', '{}', '../../etc/passwd', '<script>', "'; DROP TABLE series; --",
  'x'.repeat(3000), ',,,', 'CISO,'.repeat(50),
];
// Dates outside any era a calendar parser expects (the year 0000, negative and six-digit years): refused by the
// shared date parsing (grid/time.ts ERA) with a 400 naming the field.
const ERA = ['0000-01-01', '0000-01-01T00:00Z', '0000-12-31T23:00Z', '-000001-12-31', '+275760-09-13T00:00Z'];

// Good values by parameter name, so that each request is mostly valid and the hostile part reaches the code
// behind the schema (the analytics and the database), not only the first check that fails.
const DAY = 24 * HOUR;
const hour = (h: number) => new Date(Math.floor(Date.now() / HOUR) * HOUR + h * HOUR).toISOString();
const GOOD: Record<string, () => string> = {
  code: () => 'CISO', ba: () => 'CISO', location: () => 'CISO', id: () => 'CISO.demand', series: () => 'CISO.demand',
  from: () => hour(-24), startTime: () => hour(-24), time: () => hour(-24), dataStartAt: () => hour(1),
  to: () => hour(0), endTime: () => hour(0), toTime: () => hour(0), dataEndAt: () => hour(12),
  date: () => new Date(Date.now() - DAY).toISOString().slice(0, 10),
  duration: () => 'PT3H', windowSize: () => '60', hours: () => '24', days: () => '7', count: () => '3', limit: () => '10', offset: () => '0', run: () => '1',
};

const hostile = (values: readonly string[]): fc.Arbitrary<string> => fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...values) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);
/** Mostly the parameter's good value (or its absence when optional), sometimes a hostile one. */
const valueFor = (p: Param, values: readonly string[]): fc.Arbitrary<string | undefined> => {
  const good = GOOD[p.name]?.() ?? p.schema?.enum?.[0];
  const fine: Array<string | undefined> = [...(good === undefined ? [] : [good]), ...(p.schema?.enum ?? []), ...(p.required || p.in === 'path' ? [] : [undefined])];
  return fine.length ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...fine) }, { weight: 2, arbitrary: hostile(values) }) : hostile(values);
};

/** A path segment as a hostile client sends it: percent-encoded, a lone surrogate as the invalid UTF-8 it would be. */
const encodeSegment = (v: string): string => (v.isWellFormed() ? encodeURIComponent(v) : encodeURIComponent(v.toWellFormed()).replaceAll('%EF%BF%BD', '%ED%A0%80'));

for (const target of testDatabases()) {
  describe(`fuzz of every GET route on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let auth: string;
    let operations: Array<[string, Operation]> = [];
    before(async () => {
      ({ db, app } = await openTestApp(target));
      const end = Math.floor(Date.now() / HOUR) * HOUR;
      await loadSimulatedGrid({ db, logger: pino({ level: 'silent' }) }, [(await getBa(db, 'CISO'))!], new Date(end - 48 * HOUR), 48);
      auth = `Bearer ${(await createApiKey(db, { kind: 'worker', name: 'fuzz' })).token}`;
      const doc = (await app.inject('/api/v1/openapi.json')).json<{ paths: Record<string, { get?: Operation }> }>();
      operations = Object.entries(doc.paths).flatMap(([path, ops]) => (ops.get ? [[path, ops.get] as [string, Operation]] : []));
    });
    after(async () => { await app.close(); await db.close(); });

    it('covers the whole API', () => {
      // /api/v1/live streams without end once valid; its only parameter is a strict pattern, tested in site-http.
      assert.ok(operations.length >= 25, `${operations.length} GET routes`);
    });

    /** Sends one GET and checks the contract; returns why it broke it, or undefined. */
    const probe = async (path: string, op: Operation, values: Record<string, string | undefined>): Promise<string | undefined> => {
      let url = path;
      const query = new URLSearchParams();
      for (const p of op.parameters ?? []) {
        const v = values[p.name];
        if (v === undefined) continue;
        if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeSegment(v));
        else query.append(p.name, v);
      }
      const full = `${url}${query.size ? `?${query}` : ''}`;
      const res = await app.inject({ url: full, headers: op.security ? { authorization: auth } : {} });
      if (res.statusCode >= 500) return `${res.statusCode} for GET ${full}`;
      if (res.statusCode < 400) return undefined;
      if (!/^application\/problem\+json/.test(String(res.headers['content-type']))) return `${res.statusCode} not problem+json for GET ${full}`;
      const body = res.json<{ status: number; detail: string; field?: string }>();
      if (body.status !== res.statusCode || typeof body.detail !== 'string') return `malformed problem for GET ${full}`;
      if (res.statusCode === 400 && !body.field) return `400 without a field for GET ${full}: ${body.detail}`;
      return undefined;
    };
    const fuzzed = () => operations.filter(([p]) => p !== '/api/v1/live');
    const good = (op: Operation) => Object.fromEntries((op.parameters ?? []).map((p) => [p.name, GOOD[p.name]?.() ?? (p.required || p.in === 'path' ? p.schema?.enum?.[0] ?? 'x' : undefined)]));

    /** Exhaustive over one bad parameter at a time (the others good), so no (route, parameter, value) is left to chance. */
    const sweep = async (values: readonly string[]) => {
      const failures: string[] = [];
      for (const [path, op] of fuzzed()) {
        for (const p of op.parameters ?? []) {
          for (const v of values) {
            const broke = await probe(path, op, { ...good(op), [p.name]: v });
            if (broke) failures.push(broke);
          }
        }
      }
      return failures;
    };
    /** Random mixes of good and bad values in all parameters at once; every route is fuzzed even when one fails. */
    const mix = async (values: readonly string[]) => {
      const failures: string[] = [];
      for (const [path, op] of fuzzed()) {
        const request = fc.record(Object.fromEntries((op.parameters ?? []).map((p) => [p.name, valueFor(p, values)])));
        const run = await fc.check(fc.asyncProperty(request, async (v) => {
          const broke = await probe(path, op, v);
          if (broke) throw new Error(broke);
        }), { numRuns: RUNS });
        if (run.failed) failures.push(String((run.errorInstance as Error | undefined)?.message ?? run.counterexample).split('\n')[0]!);
      }
      return failures;
    };

    it('never answers 5xx, and every 4xx is problem+json, for each hostile value in each parameter of each GET route', async () => {
      assert.deepEqual(await sweep(HOSTILE), []);
    });

    it('never answers 5xx, and every 4xx is problem+json, for random combinations of good and hostile values (fast-check)', async () => {
      assert.deepEqual(await mix(HOSTILE), []);
    });

    it('never answers 5xx for dates in the year 0000 or beyond the calendar parser\'s era', async () => {
      assert.deepEqual(await sweep(ERA), []);
      assert.deepEqual(await mix(ERA), []);
    });
  });
}

/**
 * Malformed bodies on every body-taking operation of the OpenAPI document (POST, PUT, PATCH, DELETE, OpenADR
 * included): broken JSON, a wrong content type, prototype-pollution keys, an oversize body. Never a 5xx (the
 * cause once: a problem body that did not fit the route's declared error schema, FST_ERR_RESPONSE_SERIALIZATION);
 * a 4xx is problem+json naming its field, or on the OpenADR token endpoint its own OAuth error shape.
 */
const MALFORMED: ReadonlyArray<{ name: string; type: string; body: string }> = [
  { name: 'truncated JSON', type: 'application/json', body: '{' },
  { name: 'empty JSON', type: 'application/json', body: '' },
  { name: 'trailing garbage', type: 'application/json', body: '{"a":1}x' },
  { name: '__proto__', type: 'application/json', body: '{"__proto__":{"polluted":true}}' },
  { name: 'constructor.prototype', type: 'application/json', body: '{"a":{"constructor":{"prototype":{"polluted":true}}}}' },
  { name: 'a JSON scalar', type: 'application/json', body: '"text"' },
  { name: 'wrong content type', type: 'text/plain', body: 'hello' },
  { name: 'unknown content type', type: 'application/x-unknown', body: '\u0000\u0001' },
  { name: 'oversize', type: 'application/json', body: `{"a":"${'x'.repeat(9 * 1024 * 1024)}"}` },
];
for (const target of testDatabases()) {
  describe(`fuzz of every body-taking operation with malformed bodies on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    let operations: Array<[string, string]> = [];
    const headers: Array<Record<string, string>> = [{}];
    before(async () => {
      ({ db, app } = await openTestApp(target));
      headers.push({ authorization: `Bearer ${(await createApiKey(db, { kind: 'worker', name: 'fuzz' })).token}` });
      headers.push((await signIn(app, db, 'admin')).headers);
      const doc = (await app.inject('/api/v1/openapi.json')).json<{ paths: Record<string, Record<string, unknown>> }>();
      operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).filter((m) => ['post', 'put', 'patch', 'delete'].includes(m)).map((m) => [m.toUpperCase(), path] as [string, string]));
    });
    after(async () => { await app.close(); await db.close(); });

    it('never answers 5xx; a 4xx is problem+json naming its field (OpenADR token: invalid_request); __proto__ is named as such', async () => {
      assert.ok(operations.length >= 30, `${operations.length} body-taking operations`);
      assert.ok(operations.some(([m, p]) => m === 'POST' && p === '/openadr/3.0.1/auth/token'), 'the OpenADR token endpoint is covered');
      const failures: string[] = [];
      for (const [method, path] of operations) {
        const url = fillPath(path);
        for (const m of MALFORMED) {
          for (const h of headers) {
            const res = await app.inject({ method: method as 'POST', url, headers: { ...h, 'content-type': m.type }, payload: m.body });
            const what = `${method} ${path} (${m.name}${h.authorization ? ', authenticated' : ''}) → ${res.statusCode}`;
            if (res.statusCode >= 500) { failures.push(`${what} ${res.body.slice(0, 200)}`); continue; }
            if (res.statusCode < 400) continue;
            if (path === '/openadr/3.0.1/auth/token' && res.statusCode === 400) {
              if (res.json<{ error?: string }>().error !== 'invalid_request') failures.push(`${what}: not invalid_request ${res.body}`);
              continue;
            }
            if (!/^application\/problem\+json/.test(String(res.headers['content-type']))) { failures.push(`${what}: not problem+json`); continue; }
            const body = res.json<{ status: number; detail: string; field?: string }>();
            if (body.status !== res.statusCode) failures.push(`${what}: status ${body.status} in the body`);
            if (res.statusCode === 400 && !body.field) failures.push(`${what}: 400 without a field: ${body.detail}`);
            if (m.name === '__proto__' && res.statusCode === 400 && /not valid JSON/.test(body.detail)) failures.push(`${what}: __proto__ reported as invalid JSON`);
          }
        }
      }
      assert.deepEqual(failures, []);
    });

    it('a __proto__ key gets a 400 that names it; duplicate list members get a 400 naming the member', async () => {
      const analyst = await signIn(app, db, 'analyst');
      const proto = await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: { ...analyst.headers, 'content-type': 'application/json' }, payload: '{"name":"x","__proto__":{"admin":true}}' });
      assert.equal(proto.statusCode, 400);
      assert.equal(proto.json().field, 'body');
      assert.match(proto.json().detail, /__proto__ is not allowed/);
      const dup = await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: analyst.headers, payload: { name: 'West', page: 'compare', bas: ['CISO', 'BPAT', 'CISO'], range: { kind: 'relative', last: 'P7D' }, charts: ['demand'] } });
      assert.equal(dup.statusCode, 400, dup.body);
      assert.equal(dup.json().field, 'bas/2');
      assert.match(dup.json().detail, /duplicate member "CISO": already at index 0/);
      const charts = await app.inject({ method: 'POST', url: '/api/v1/me/views', headers: analyst.headers, payload: { name: 'West', page: 'compare', bas: ['CISO'], range: { kind: 'relative', last: 'P7D' }, charts: ['demand', 'demand'] } });
      assert.equal(charts.json().field, 'charts/1');
      const scopes = await app.inject({ method: 'POST', url: '/api/v1/me/keys', headers: analyst.headers, payload: { name: 'k', scopes: ['me:read', 'me:read'] } });
      assert.equal(scopes.statusCode, 400, scopes.body);
      assert.equal(scopes.json().field, 'scopes/1');
      const list = await app.inject({ url: '/api/v1/me/views', headers: analyst.headers });
      assert.deepEqual(list.json().data, [], 'nothing was stored');
    });
  });
}
