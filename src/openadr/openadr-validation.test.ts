import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { openadrBearer } from '../../test/support/openadr.ts';
import { buildApp } from '../app.ts';
import { memoryCache } from '../platform/cache.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { durationSeconds, MAX_DURATION_S, PAYLOAD_BOUNDS } from './openadr-schemas.ts';

const V = '/openadr/3.0.1';
const logger = pino({ level: 'silent' });

const event = (programID: string, o: { start?: string; duration?: string; intervals?: unknown[] } = {}) => ({
  programID, intervalPeriod: { start: o.start ?? '2024-07-01T00:00:00Z', duration: o.duration ?? 'PT1H' },
  intervals: o.intervals ?? [{ id: 0, payloads: [{ type: 'PRICE', values: [0.12] }] }],
});

describe('durationSeconds', () => {
  it('counts hours, days, weeks exactly and keeps the sign', () => {
    assert.equal(durationSeconds('PT1H'), 3600);
    assert.equal(durationSeconds('P2W'), 14 * 86_400);
    assert.equal(durationSeconds('-PT1H30M'), -5400);
    assert.ok(Number.isNaN(durationSeconds('1H')));
    fc.assert(fc.property(fc.nat(100_000), fc.nat(59), (h, m) => durationSeconds(`PT${h}H${m}M`) === h * 3600 + m * 60));
  });
});

for (const target of testDatabases()) {
  describe(`OpenADR 3.0.1 VTN input bounds (${target.name})`, () => {
    let db: Db;
    let app: FastifyInstance;
    let headers: Record<string, string>;
    let venHeaders: Record<string, string>;
    let programID: string;
    before(async () => {
      db = await target.open();
      await migrate(db);
      app = await buildApp({ db, logger, cache: memoryCache(), webhookPolicy: { allowPrivate: true } });
      headers = (await openadrBearer(app, db, 'bl')).headers;
      venHeaders = (await openadrBearer(app, db, 'ven')).headers;
      const p = await app.inject({ method: 'POST', url: `${V}/programs`, headers, payload: { programName: 'bounds' } });
      assert.equal(p.statusCode, 201, p.body);
      programID = p.json().id;
    });
    after(async () => { await app.close(); await db.close(); });

    // reports are written by VENs (write_reports), the rest by the utility (BL)
    const post = (path: string, payload: unknown) => app.inject({ method: 'POST', url: `${V}${path}`, headers: path === '/reports' ? venHeaders : headers, payload: payload as object });

    it('the tester\'s bodies are 400 problems naming the field (not 500s, not stored)', async () => {
      const cases: Array<[string, unknown, string]> = [
        ['P99999Y', event(programID, { duration: 'P99999Y' }), 'intervalPeriod/duration'],
        ['PT999999999H', event(programID, { duration: 'PT999999999H' }), 'intervalPeriod/duration'],
        ['-PT1H', event(programID, { duration: '-PT1H' }), 'intervalPeriod/duration'],
        ['PT0S for three intervals', event(programID, { duration: 'PT0S', intervals: [0, 1, 2].map((id) => ({ id, payloads: [{ type: 'PRICE', values: [0.1] }] })) }), 'intervalPeriod/duration'],
        ['values ["NaN"]', event(programID, { intervals: [{ id: 0, payloads: [{ type: 'PRICE', values: ['NaN'] }] }] }), 'intervals/0/payloads/0/values/0'],
        ['PRICE 1e308', event(programID, { intervals: [{ id: 0, payloads: [{ type: 'PRICE', values: [1e308] }] }] }), 'intervals/0/payloads/0/values/0'],
        ['DISPATCH_SETPOINT -1e9', event(programID, { intervals: [{ id: 0, payloads: [{ type: 'DISPATCH_SETPOINT', values: [-1e9] }] }] }), 'intervals/0/payloads/0/values/0'],
        ['duplicate interval ids', event(programID, { intervals: [0, 0].map((id) => ({ id, payloads: [{ type: 'PRICE', values: [0.1] }] })) }), 'intervals/1/id'],
        ['year 99999 start', event(programID, { start: '+099999-01-01T00:00:00Z' }), 'intervalPeriod/start'],
        ['year 9999 start', event(programID, { start: '9999-12-31T23:00:00Z' }), 'intervalPeriod/start'],
        ['interval id beyond int32', event(programID, { intervals: [{ id: 2 ** 40, payloads: [] }] }), 'intervals/0/id'],
      ];
      for (const [what, body, field] of cases) {
        const res = await post('/events', body);
        assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
        assert.match(res.headers['content-type'] as string, /problem\+json/);
        assert.equal(res.json().field, field, what);
      }
      const report = await post('/reports', { programID, eventID: 'e1', clientName: 'ven', resources: [{ resourceName: 'r', intervalPeriod: { start: '2024-07-01T00:00:00Z', duration: 'P99999Y' }, intervals: [] }] });
      assert.equal(report.statusCode, 400, report.body);
      assert.equal(report.json().field, 'resources/0/intervalPeriod/duration');
      const prog = await post('/programs', { programName: 'far', intervalPeriod: { start: '2024-07-01T00:00:00Z', duration: 'PT999999999H' } });
      assert.equal(prog.json().field, 'intervalPeriod/duration');
      const list = await app.inject({ method: 'GET', url: `${V}/events?programID=${programID}`, headers });
      assert.deepEqual(list.json(), [], 'nothing refused was stored');
    });

    it('sane bodies at the bounds are still accepted: PT0S for one interval, a negative price, 10 years, a -PT5H time zone offset', async () => {
      const bound = PAYLOAD_BOUNDS.PRICE!;
      const ok = await post('/events', event(programID, { duration: 'PT0S', intervals: [{ id: 7, payloads: [{ type: 'PRICE', values: [bound.min] }, { type: 'PRIVATE_LABEL', values: ['text', true] }] }] }));
      assert.equal(ok.statusCode, 201, ok.body);
      const long = await post('/events', event(programID, { duration: 'P10Y' }));
      assert.equal(long.statusCode, 201, long.body);
      assert.ok(durationSeconds('P10Y') <= MAX_DURATION_S);
      const prog = await post('/programs', { programName: 'east', timeZoneOffset: '-PT5H' });
      assert.equal(prog.statusCode, 201, prog.body);
    });

    it('fuzz: no event, program or report body makes the VTN answer 5xx', async () => {
      const durationArb = fc.oneof(
        { arbitrary: fc.constantFrom('PT1H', 'PT0S', '-PT1H', 'P99999Y', 'PT999999999H', 'P1W', 'P1Y2M3DT4H5M6.5S', 'P', 'PT', '', 'P1.5D'), weight: 3 },
        fc.tuple(fc.boolean(), fc.nat(), fc.constantFrom('Y', 'M', 'W', 'D')).map(([neg, n, u]) => `${neg ? '-' : ''}P${n}${u}`),
        fc.tuple(fc.nat(), fc.constantFrom('H', 'M', 'S')).map(([n, u]) => `PT${n}${u}`),
        fc.string());
      // mostly plausible values, so that bodies get past the shape checks to the store
      const dateArb = fc.oneof(
        { arbitrary: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()), weight: 4 },
        fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15), noInvalidDate: true }).map((d) => d.toISOString()),
        fc.constantFrom('2024-07-01T00:00:00Z', '2024-07-01T00:00:00+14:00', '0000-01-01T00:00:00Z', '2024-02-30T00:00:00Z'), fc.string());
      const valueArb = fc.oneof(fc.double(), fc.integer(), fc.constantFrom('NaN', 'Infinity', 1e308, -1e308, true), fc.string(), fc.record({ x: fc.double(), y: fc.double() }));
      const typeArb = fc.constantFrom('PRICE', 'EXPORT_PRICE', 'GHG', 'DISPATCH_SETPOINT', 'IMPORT_CAPACITY_LIMIT', 'EXPORT_CAPACITY_LIMIT', 'OTHER');
      const periodArb = fc.record({ start: dateArb, duration: durationArb, randomizeStart: durationArb }, { requiredKeys: ['start'] });
      const intervalArb = fc.record({
        id: fc.oneof({ arbitrary: fc.integer({ min: -3, max: 3 }), weight: 8 }, fc.double(), fc.constant(2 ** 53)),
        intervalPeriod: periodArb,
        payloads: fc.array(fc.record({ type: typeArb, values: fc.array(valueArb, { maxLength: 3 }) }), { maxLength: 3 }),
      }, { requiredKeys: ['id', 'payloads'] });
      const intervalsArb = fc.array(intervalArb, { maxLength: 4 });
      const bodyArb = fc.oneof(
        fc.record({ programID: fc.constant(programID), priority: fc.oneof(fc.nat(), fc.integer(), fc.double()), intervalPeriod: periodArb, intervals: intervalsArb }, { requiredKeys: ['programID', 'intervals'] })
          .map((b) => ['/events', b] as const),
        fc.record({ programName: fc.string({ minLength: 1, maxLength: 20 }), timeZoneOffset: durationArb, intervalPeriod: periodArb }, { requiredKeys: ['programName'] })
          .map((b) => ['/programs', b] as const),
        fc.record({ programID: fc.constant(programID), eventID: fc.constant('e1'), clientName: fc.constant('ven'),
          resources: fc.array(fc.record({ resourceName: fc.constant('r'), intervalPeriod: periodArb, intervals: intervalsArb }, { requiredKeys: ['resourceName', 'intervals'] }), { maxLength: 2 }) })
          .map((b) => ['/reports', b] as const));
      await fc.assert(fc.asyncProperty(bodyArb, async ([path, body]) => {
        const res = await post(path, body);
        assert.ok(res.statusCode < 500, `${path} ${JSON.stringify(body)} → ${res.statusCode} ${res.body}`);
        assert.notEqual(res.statusCode, 403, 'the fuzz must reach validation');
        if (res.statusCode === 400) assert.ok(typeof res.json().field === 'string', res.body);
      }), { numRuns: 200 });
    });
  });
}
