import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { openTestApp } from './support/app.ts';
import { testDatabases } from './support/databases.ts';
import type { Db } from '../src/platform/db.ts';
import { createApiKey } from '../src/auth/api-keys.ts';
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
  '0000-01-01', '0000-01-01T00:00Z', '-000001-12-31', '+275760-09-13T00:00Z', '9999-12-31', '2026-02-30', '2026-11-31',
  '2025-13-01', '2025-00-10', '2025-8-1', '2025-08-01T24:00Z', '2025-08-01T17:00', '2025-08-01T17:00+99:00', 'garbage',
  'PT0H', 'PT9999999H', 'P-1D', 'true', 'null', '[]', '{}', '../../etc/passwd', '<script>', "'; DROP TABLE series; --",
  'x'.repeat(3000), ',,,', 'CISO,'.repeat(50),
];
// Plausible values, so that some requests get past validation and reach the analytics and the database.
const PLAUSIBLE = ['CISO', 'ERCO', 'CISO.demand', '2025-08-01', '2025-08-01T17:00Z', 'PT3H', '24', '1', '7', 'true', 'csv', 'json'];

const valueFor = (p: Param): fc.Arbitrary<string> => fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: fc.constantFrom(...PLAUSIBLE, ...(p.schema?.enum ?? [])) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

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
      auth = `Bearer ${(await createApiKey(db, { role: 'worker', name: 'fuzz' })).token}`;
      const doc = (await app.inject('/api/v1/openapi.json')).json<{ paths: Record<string, { get?: Operation }> }>();
      operations = Object.entries(doc.paths).flatMap(([path, ops]) => (ops.get ? [[path, ops.get] as [string, Operation]] : []));
    });
    after(async () => { await app.close(); await db.close(); });

    it('covers the whole API', () => {
      // /api/v1/live streams without end once valid; its only parameter is a strict pattern, tested in site-http.
      assert.ok(operations.length >= 25, `${operations.length} GET routes`);
    });

    it('never answers 5xx, and every 4xx is problem+json, for hostile values in every parameter of every GET route', async () => {
      const failures: string[] = [];
      for (const [path, op] of operations.filter(([p]) => p !== '/api/v1/live')) {
        const params = op.parameters ?? [];
        const request = fc.record(Object.fromEntries(params.map((p) => [p.name,
          p.in === 'path' || p.required ? valueFor(p) : fc.option(valueFor(p), { nil: undefined })])) as Record<string, fc.Arbitrary<string | undefined>>);
        const run = await fc.check(fc.asyncProperty(request, async (values) => {
          let url = path;
          const query = new URLSearchParams();
          for (const p of params) {
            const v = values[p.name];
            if (v === undefined) continue;
            if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeSegment(v));
            else query.append(p.name, v);
          }
          const full = `${url}${query.size ? `?${query}` : ''}`;
          const res = await app.inject({ url: full, headers: op.security ? { authorization: auth } : {} });
          assert.ok(res.statusCode < 500, `${res.statusCode} for GET ${full}: ${res.body.slice(0, 300)}`);
          if (res.statusCode >= 400) {
            assert.match(String(res.headers['content-type']), /^application\/problem\+json/, `GET ${full}`);
            const body = res.json<{ status: number; detail: string; field?: string }>();
            assert.equal(body.status, res.statusCode, `GET ${full}`);
            assert.equal(typeof body.detail, 'string');
            if (res.statusCode === 400) assert.ok(body.field, `400 without a field for GET ${full}: ${body.detail}`);
          }
        }), { numRuns: RUNS });
        // Every route is fuzzed even when one fails, so the report lists them all (each shrunk to a small case).
        if (run.failed) failures.push(String((run.errorInstance as Error | undefined)?.message ?? run.counterexample).split('\n')[0]!);
      }
      assert.deepEqual(failures, []);
    });
  });
}
