import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../../../test/support/databases.ts';
import { migrate } from '../../platform/migrate.ts';
import { createHttp } from '../../platform/http.ts';
import { memoryCache } from '../../platform/cache.ts';
import type { Db } from '../../platform/db.ts';
import { PointStore } from '../../ingest/store-points.ts';
import type { EiaPoint } from '../../ingest/eia-schema.ts';
import { pipelineRoutes } from '../../ingest/routes.ts';
import { seriesRoutes } from '../../grid/routes.ts';
import { intensityRoutes } from '../intensity/intensity-routes.ts';
import { sdkRoutes } from './sdk-routes.ts';

/**
 * Every Carbon Aware SDK endpoint GridPulse answers, each asked with the request its documentation gives as the
 * example (GSF carbon-aware-sdk docs/carbon-aware-webapi.md; its locations eastus/westus/northeurope become BA codes)
 * on a small fixture placed on the example's dates, and checked against hand-computed answers.
 *
 * Fixture (lifecycle factors: gas 490, wind 11, coal 820 gCO2eq/kWh):
 * - ERCO has no interchange, so consumption = production = (490 × NG + 11 × WND) / (NG + WND):
 *   NG only → 490, half and half → 250.5, wind only → 11.
 * - BPAT (wind 1000 MW) imports 1000 MW from PACW (coal 2000 MW) at 2022-05-16 22:00 → (11 × 1000 + 820 × 1000) / 2000 = 415.5;
 *   at 23:00 both have their fuel mix but the interchange has not been reported: BPAT's value there is not consumption-based.
 */
const GAS = 490, WIND = 11;
const mixValue = ([ng, wnd]: [number, number]) => (GAS * ng + WIND * wnd) / (ng + wnd);
const ALL_GAS: [number, number] = [100, 0], HALF: [number, number] = [50, 50], ALL_WIND: [number, number] = [0, 100];
/** ERCO's fuel mix (NG, WND MW) per hour */
const ERCO: Record<string, [number, number]> = {
  '2022-05-16T10': ALL_GAS, '2022-05-16T11': HALF, '2022-05-16T12': ALL_WIND,
  '2022-05-01T14': ALL_GAS, '2022-05-01T15': ALL_GAS, '2022-05-01T16': ALL_GAS, '2022-05-01T17': ALL_GAS,
  '2022-06-01T14': HALF, '2022-06-01T15': HALF, '2022-06-01T16': HALF, '2022-06-01T17': HALF,
  '2022-07-01T14': ALL_WIND, '2022-07-01T15': ALL_WIND, '2022-07-01T16': ALL_WIND, '2022-07-01T17': ALL_WIND,
  '2022-07-19T14': ALL_GAS, '2022-07-19T15': HALF, '2022-07-19T16': ALL_WIND, '2022-07-19T17': ALL_GAS,
};
const BPAT_COMPLETE = (11 * 1000 + 820 * 1000) / 2000;
const hour = (h: string) => new Date(`${h}:00:00Z`);

function fixturePoints(): EiaPoint[] {
  const out: EiaPoint[] = [];
  for (const [h, [ng, wnd]] of Object.entries(ERCO)) {
    out.push({ route: 'fuel', ba: 'ERCO', code: 'NG', ts: hour(h), value: ng }, { route: 'fuel', ba: 'ERCO', code: 'WND', ts: hour(h), value: wnd });
  }
  for (const h of ['2022-05-16T22', '2022-05-16T23']) {
    out.push({ route: 'fuel', ba: 'BPAT', code: 'WND', ts: hour(h), value: 1000 }, { route: 'fuel', ba: 'PACW', code: 'COL', ts: hour(h), value: 2000 });
  }
  out.push({ route: 'interchange', ba: 'PACW', code: 'BPAT', ts: hour('2022-05-16T22'), value: 1000 },
    { route: 'interchange', ba: 'BPAT', code: 'PACW', ts: hour('2022-05-16T22'), value: -1000 });
  return out;
}

/** Hourly intensity forecast runs: BA, made at, first hour, values. */
const ERCO_RUN = { made: '2022-07-19T13:35:00Z', first: '2022-07-19T12', values: [500, 480, 460, 450, 440, 430, 300, 320, 350, 380, 400, 420, 440, 450, 460, 470, 480, 490] };
const BPAT_RUN = { made: '2022-06-01T12:00:00Z', first: '2022-06-01T12', values: [200, 210, 220, 180, 190, 230, 240, 250, 260, 270, 280, 290] };
const PACW_RUN = { made: '2022-06-13T06:05:00Z', first: '2022-06-13T06', values: [600, 610, 590, 605, 620, 630] };
/** value of the ERCO run at an hour of 2022-07-19/20 */
const ercoAt = (isoHour: string) => ERCO_RUN.values[(hour(isoHour).getTime() - hour(ERCO_RUN.first).getTime()) / 3_600_000]!;

async function storeRun(db: Db, ba: string, run: { made: string; first: string; values: number[] }) {
  await db.query(`INSERT INTO forecast_runs (ba_code, target, made_at, model, source, data_through, train_rows) VALUES ($1, 'intensity', $2, 'test', 'eia', $2, 48)`, [ba, run.made]);
  for (const [k, v] of run.values.entries()) {
    await db.query(`INSERT INTO forecasts (ba_code, target, made_at, ts, value, low, high, model) VALUES ($1, 'intensity', $2, $3, $4::float8, $4::float8 - 10, $4::float8 + 10, 'test')`,
      [ba, run.made, new Date(hour(run.first).getTime() + k * 3_600_000), v]);
  }
}

type Data = { location: string; time: string; rating: number; duration: string };
type Forecast = { location: string; dataStartAt: string; dataEndAt: string; windowSize: number; generatedAt: string; requestedAt: string;
  forecastData: Array<{ timestamp: string; duration: number; value: number }>; optimalDataPoints: Array<{ timestamp: string; duration: number; value: number }> };
const close = (a: number, b: number, what = '') => assert.ok(Math.abs(a - b) < 1e-9, `${what} ${a} ≠ ${b}`);
const points = (f: Forecast['forecastData']) => f.map((p) => [p.timestamp, p.duration, p.value]);

for (const target of testDatabases()) {
  describe(`Carbon Aware SDK routes on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => {
      db = await target.open();
      await migrate(db);
      await new PointStore(db, pino({ level: 'silent' }), 'eia').store(fixturePoints());
      await storeRun(db, 'ERCO', ERCO_RUN);
      await storeRun(db, 'BPAT', BPAT_RUN);
      await storeRun(db, 'PACW', PACW_RUN);
      app = await createHttp(pino({ level: 'silent' }));
      const deps = { db, cache: memoryCache(), logger: pino({ level: 'silent' }) };
      await intensityRoutes(app, deps);
      await sdkRoutes(app, deps);
      seriesRoutes(app, db);
      pipelineRoutes(app, db);
    });
    after(async () => { await app.close(); await db.close(); });

    it('GET /emissions/bylocation: the documented example (location, time and toTime as dates) returns every hour with data', async () => {
      const res = await app.inject('/api/v1/emissions/bylocation?location=ERCO&time=2022-05-16&toTime=2022-05-17');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), [
        { location: 'ERCO', time: '2022-05-16T10:00:00.000Z', rating: 490, duration: '01:00:00' },
        { location: 'ERCO', time: '2022-05-16T11:00:00.000Z', rating: 250.5, duration: '01:00:00' },
        { location: 'ERCO', time: '2022-05-16T12:00:00.000Z', rating: 11, duration: '01:00:00' },
      ]);
      // time alone: the hour containing it; no time: the newest hour with complete data
      assert.deepEqual((await app.inject('/api/v1/emissions/bylocation?location=ERCO&time=2022-05-16T11:30:00')).json().map((d: Data) => d.time), ['2022-05-16T11:00:00.000Z']);
      assert.deepEqual((await app.inject('/api/v1/emissions/bylocation?location=ERCO')).json(), [{ location: 'ERCO', time: '2022-07-19T17:00:00.000Z', rating: 490, duration: '01:00:00' }]);
    });

    it('GET /emissions/bylocations: the documented example (repeated `locations`) leaves out the hour whose interchange is missing', async () => {
      const res = await app.inject('/api/v1/emissions/bylocations?locations=ERCO&locations=BPAT&time=2022-05-16&toTime=2022-05-17');
      assert.equal(res.statusCode, 200);
      const rows = res.json() as Data[];
      assert.deepEqual(rows.map((d) => [d.location, d.time.slice(0, 13), d.rating]),
        [['ERCO', '2022-05-16T10', 490], ['ERCO', '2022-05-16T11', 250.5], ['ERCO', '2022-05-16T12', 11], ['BPAT', '2022-05-16T22', BPAT_COMPLETE]]);
      // `location` (what the SDK binds) says the same
      assert.deepEqual((await app.inject('/api/v1/emissions/bylocations?location=ERCO&location=BPAT&time=2022-05-16&toTime=2022-05-17')).json(), rows);
      // "now" for BPAT is 22:00, not the newer 23:00 whose consumption-based value would be production passed off as consumption
      assert.deepEqual((await app.inject('/api/v1/emissions/bylocations?location=BPAT')).json(), [{ location: 'BPAT', time: '2022-05-16T22:00:00.000Z', rating: BPAT_COMPLETE, duration: '01:00:00' }]);
    });

    // interchange-missing does not depend on the query range: a range that starts at the incomplete hour flags it too
    it('GET /emissions/bylocations: a range starting at the hour whose interchange is missing has no data (204)', async () => {
        const none = await app.inject('/api/v1/emissions/bylocations?location=BPAT&time=2022-05-16T23:00:00Z&toTime=2022-05-17T00:00:00Z');
        assert.equal(none.statusCode, 204);
      });

    it('GET /emissions/bylocations/best: the documented example returns the lowest-rated hour across the locations', async () => {
      const res = await app.inject('/api/v1/emissions/bylocations/best?locations=ERCO&locations=BPAT&time=2022-05-16&toTime=2022-05-17');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), [{ location: 'ERCO', time: '2022-05-16T12:00:00.000Z', rating: mixValue(ALL_WIND), duration: '01:00:00' }]);
      // ties: 2022-05-01 is all gas every hour
      assert.equal((await app.inject('/api/v1/emissions/bylocations/best?location=ERCO&time=2022-05-01T14:00Z&toTime=2022-05-01T18:00Z')).json().length, 4);
    });

    it('GET /emissions/forecasts/current: the documented example gives windows of windowSize from dataStartAt, one per hour, none past dataEndAt', async () => {
      const res = await app.inject('/api/v1/emissions/forecasts/current?location=ERCO&dataStartAt=2022-07-19T14:00:00Z&dataEndAt=2022-07-20T04:38:00Z&windowSize=10');
      assert.equal(res.statusCode, 200);
      const [f, ...more] = res.json() as Forecast[];
      assert.equal(more.length, 0);
      assert.deepEqual([f!.location, f!.generatedAt, f!.dataStartAt, f!.dataEndAt, f!.windowSize],
        ['ERCO', '2022-07-19T13:35:00.000Z', '2022-07-19T14:00:00.000Z', '2022-07-20T04:38:00.000Z', 10]);
      // 10-minute windows at 14:00, 15:00, … 04:00 (04:00–04:10 ends by 04:38; 05:00 would not): each inside one hour, so that hour's value
      const hours = [...Array.from({ length: 10 }, (_, k) => `2022-07-19T${14 + k}`), ...Array.from({ length: 5 }, (_, k) => `2022-07-20T0${k}`)];
      assert.deepEqual(points(f!.forecastData), hours.map((h) => [`${h}:00:00.000Z`, 10, ercoAt(h)]));
      assert.deepEqual(f!.optimalDataPoints, [{ location: 'ERCO', timestamp: '2022-07-19T18:00:00.000Z', duration: 10, value: 300 }]);
    });

    it('GET /emissions/forecasts/current: time-weighted windows from a dataStartAt between hours, given without an offset (UTC) or with an encoded +', async () => {
      // 90-minute windows from 14:30: 30 min of one hour and 60 of the next; the last starts 17:30 and ends at dataEndAt 19:00
      const expected = [['2022-07-19T14:30:00.000Z', (30 * 460 + 60 * 450) / 90], ['2022-07-19T15:30:00.000Z', (30 * 450 + 60 * 440) / 90],
        ['2022-07-19T16:30:00.000Z', (30 * 440 + 60 * 430) / 90], ['2022-07-19T17:30:00.000Z', (30 * 430 + 60 * 300) / 90]] as const;
      for (const start of ['2022-07-19T14:30:00', '2022-07-19T15:30:00%2B01:00']) {
        const res = await app.inject(`/api/v1/emissions/forecasts/current?location=ERCO&dataStartAt=${start}&dataEndAt=2022-07-19T19:00:00Z&windowSize=90`);
        assert.equal(res.statusCode, 200, start);
        const [f] = res.json() as Forecast[];
        assert.equal(f!.forecastData.length, expected.length, start);
        f!.forecastData.forEach((p, k) => { assert.equal(p.timestamp, expected[k]![0]); assert.equal(p.duration, 90); close(p.value, expected[k]![1], p.timestamp); });
        assert.deepEqual(f!.optimalDataPoints.map((p) => p.timestamp), ['2022-07-19T17:30:00.000Z']);
      }
    });

    it('GET /emissions/forecasts/current: dataStartAt or dataEndAt outside the forecast, or a + sent as a space, is a 400 naming the field', async () => {
      const cases: Array<[string, string, RegExp]> = [
        ['dataStartAt=2022-07-19T11:00:00Z', 'dataStartAt', /within the forecast.*2022-07-19T12:00:00.000Z to 2022-07-20T06:00:00.000Z/],
        ['dataEndAt=2022-07-20T07:00:00Z', 'dataEndAt', /within the forecast/],
        ['dataStartAt=2001-01-01T00:00:00Z&dataEndAt=2001-01-02T00:00:00Z', 'dataStartAt', /within the forecast/],
        ['dataStartAt=1999-01-01T00:00:00Z&dataEndAt=1999-01-02T00:00:00Z', 'dataStartAt', /outside the dates GridPulse answers about/],
        ['dataStartAt=2022-07-19T15:00:00Z&dataEndAt=2022-07-19T15:00:00Z', 'dataEndAt', /after dataStartAt/],
        ['dataStartAt=2022-07-19T15:30:00+01:00', 'dataStartAt', /%2B/],
      ];
      for (const [query, field, detail] of cases) {
        const res = await app.inject(`/api/v1/emissions/forecasts/current?location=ERCO&${query}`);
        assert.equal(res.statusCode, 400, query);
        assert.match(res.headers['content-type'] as string, /problem\+json/);
        assert.equal(res.json().field, field, query);
        assert.match(res.json().detail, detail, query);
      }
      const none = await app.inject('/api/v1/emissions/forecasts/current?location=ERCO&location=CISO');
      assert.equal(none.statusCode, 404);
      assert.match(none.json().detail, /CISO/);
    });

    it('POST /emissions/forecasts/batch: the documented example, each element from the forecast made by its requestedAt', async () => {
      const example = [
        { location: 'BPAT', dataStartAt: '2022-06-01T14:00:00Z', dataEndAt: '2022-06-01T18:00:00Z', windowSize: 30, requestedAt: '2022-06-01T12:01:00Z' },
        { location: 'PACW', dataStartAt: '2022-06-13T08:00:00Z', dataEndAt: '2022-06-13T10:00:00Z', windowSize: 30, requestedAt: '2022-06-13T6:05:00Z' },
      ];
      // the example's second requestedAt has a one-digit hour, which the SDK's JSON reader refuses too
      const refused = await app.inject({ method: 'POST', url: '/api/v1/emissions/forecasts/batch', payload: example });
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.json().field, '1/requestedAt');
      const res = await app.inject({ method: 'POST', url: '/api/v1/emissions/forecasts/batch', payload: [example[0], { ...example[1], requestedAt: '2022-06-13T06:05:00' }] });
      assert.equal(res.statusCode, 200);
      const [bpat, pacw] = res.json() as Forecast[];
      // 30-minute windows at 14, 15, 16 and 17:00 (17:00–17:30 ends by 18:00): 220, 180, 190, 230
      assert.deepEqual(points(bpat!.forecastData), [['2022-06-01T14:00:00.000Z', 30, 220], ['2022-06-01T15:00:00.000Z', 30, 180], ['2022-06-01T16:00:00.000Z', 30, 190], ['2022-06-01T17:00:00.000Z', 30, 230]]);
      assert.deepEqual(points(bpat!.optimalDataPoints), [['2022-06-01T15:00:00.000Z', 30, 180]]);
      assert.deepEqual([bpat!.generatedAt, bpat!.requestedAt, bpat!.windowSize], ['2022-06-01T12:00:00.000Z', '2022-06-01T12:01:00.000Z', 30]);
      assert.deepEqual(points(pacw!.forecastData), [['2022-06-13T08:00:00.000Z', 30, 590], ['2022-06-13T09:00:00.000Z', 30, 605]]);
      assert.deepEqual([pacw!.generatedAt, pacw!.requestedAt], ['2022-06-13T06:05:00.000Z', '2022-06-13T06:05:00.000Z']);

      const outside = await app.inject({ method: 'POST', url: '/api/v1/emissions/forecasts/batch', payload: [example[0], { ...example[1], requestedAt: '2022-06-13T06:05:00Z', dataEndAt: '2022-06-13T13:00:00Z' }] });
      assert.equal(outside.statusCode, 400);
      assert.equal(outside.json().field, '1/dataEndAt');
      const tooEarly = await app.inject({ method: 'POST', url: '/api/v1/emissions/forecasts/batch', payload: [{ location: 'BPAT', requestedAt: '2022-06-01T11:59:00Z' }] });
      assert.equal(tooEarly.statusCode, 404);
      assert.equal(tooEarly.json().field, '0/requestedAt');
      const unknown = await app.inject({ method: 'POST', url: '/api/v1/emissions/forecasts/batch', payload: [{ location: 'NOPE' }] });
      assert.equal(unknown.statusCode, 400);
      assert.equal(unknown.json().field, '0/location');
    });

    it('GET /emissions/average-carbon-intensity: the documented example averages the hours of the period', async () => {
      const res = await app.inject('/api/v1/emissions/average-carbon-intensity?location=ERCO&startTime=2022-07-19T14:00:00Z&endTime=2022-07-19T18:00:00Z');
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { location: 'ERCO', startTime: '2022-07-19T14:00:00.000Z', endTime: '2022-07-19T18:00:00.000Z', carbonIntensity: (490 + 250.5 + 11 + 490) / 4 });
      // partial hours count by their minutes: 14:30–15:15 is 30 min of 490 and 15 of 250.5
      close((await app.inject('/api/v1/emissions/average-carbon-intensity?location=ERCO&startTime=2022-07-19T14:30:00Z&endTime=2022-07-19T15:15:00Z')).json().carbonIntensity, (30 * 490 + 15 * 250.5) / 45);
      // an hour whose interchange is missing is not averaged as if consumption-based
      const incomplete = await app.inject('/api/v1/emissions/average-carbon-intensity?location=BPAT&startTime=2022-05-16T22:00:00Z&endTime=2022-05-17T00:00:00Z');
      assert.equal(incomplete.statusCode, 400);
      assert.equal(incomplete.json().field, 'endTime');
      assert.match(incomplete.json().detail, /^Period out of range: BPAT's consumption-based carbon intensity is incomplete from 2022-05-16T23:00:00.000Z \(interchange-missing/);
      assert.equal((await app.inject('/api/v1/emissions/average-carbon-intensity?location=BPAT&startTime=2022-05-16T22:15:00Z&endTime=2022-05-16T22:45:00Z')).json().carbonIntensity, BPAT_COMPLETE);
    });

    it('POST /emissions/average-carbon-intensity/batch: the documented example (times without an offset, read as UTC)', async () => {
      const res = await app.inject({ method: 'POST', url: '/api/v1/emissions/average-carbon-intensity/batch', payload: [
        { location: 'ERCO', startTime: '2022-05-01T14:00:00', endTime: '2022-05-01T18:00:00' },
        { location: 'ERCO', startTime: '2022-06-01T14:00:00', endTime: '2022-06-01T18:00:00' },
        { location: 'ERCO', startTime: '2022-07-01T14:00:00', endTime: '2022-07-01T18:00:00' },
      ] });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), [
        { location: 'ERCO', startTime: '2022-05-01T14:00:00.000Z', endTime: '2022-05-01T18:00:00.000Z', carbonIntensity: 490 },
        { location: 'ERCO', startTime: '2022-06-01T14:00:00.000Z', endTime: '2022-06-01T18:00:00.000Z', carbonIntensity: 250.5 },
        { location: 'ERCO', startTime: '2022-07-01T14:00:00.000Z', endTime: '2022-07-01T18:00:00.000Z', carbonIntensity: 11 },
      ]);
      const bad = await app.inject({ method: 'POST', url: '/api/v1/emissions/average-carbon-intensity/batch', payload: [
        { location: 'ERCO', startTime: '2022-05-01T14:00:00', endTime: '2022-05-01T18:00:00' }, { location: 'NOPE', startTime: '2022-05-01T14:00:00', endTime: '2022-05-01T18:00:00' }] });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().field, '1/location');
      const missing = await app.inject({ method: 'POST', url: '/api/v1/emissions/average-carbon-intensity/batch', payload: [{ location: 'ERCO', startTime: '2022-05-01T14:00:00' }] });
      assert.equal(missing.json().field, '0/endTime');
      const many = await app.inject({ method: 'POST', url: '/api/v1/emissions/average-carbon-intensity/batch',
        payload: Array.from({ length: 21 }, () => ({ location: 'ERCO', startTime: '2022-05-01T14:00:00', endTime: '2022-05-01T15:00:00' })) });
      assert.equal(many.statusCode, 400);
    });

    it('rejects bad input with problem+json naming the field', async () => {
      const cases: Array<[string, number, string]> = [
        ['/api/v1/emissions/forecasts/current?location=no-pe', 400, 'location'],
        ['/api/v1/emissions/forecasts/current?location=NOPE', 400, 'location'],
        ['/api/v1/emissions/forecasts/current?location=ERCO&windowSize=0', 400, 'windowSize'],
        ['/api/v1/emissions/bylocation', 400, 'location'],
        ['/api/v1/emissions/bylocations?time=2022-05-16', 400, 'location'],
        ['/api/v1/emissions/bylocations?location=ERCO&location=NOPE&time=2022-05-16', 400, 'location'],
        ['/api/v1/emissions/bylocations/best?location=ERCO&toTime=2022-05-16', 400, 'time'],
        ['/api/v1/emissions/bylocations/best?location=ERCO&time=2022-05-16T12:00Z&toTime=2022-05-16T11:00Z', 400, 'toTime'],
        ['/api/v1/emissions/bylocations/best?location=ERCO&time=2022-05-16T12:00Z&toTime=2022-05-16T12:00Z', 400, 'toTime'],
        ['/api/v1/emissions/bylocation?location=ERCO&time=soon', 400, 'time'],
        ['/api/v1/emissions/bylocation?location=ERCO&time=2022-01-01&toTime=2022-05-17', 400, 'toTime'],
        ['/api/v1/emissions/bylocation?location=ERCO&time=2022-05-16T10:00:00+01:00', 400, 'time'],
        ['/api/v1/emissions/average-carbon-intensity?location=ERCO&endTime=2022-05-16T12:00Z', 400, 'startTime'],
        ['/api/v1/emissions/average-carbon-intensity?startTime=2022-05-16T10:00Z&endTime=2022-05-16T12:00Z', 400, 'location'],
        ['/api/v1/emissions/average-carbon-intensity?location=NOPE&startTime=2022-05-16T10:00Z&endTime=2022-05-16T12:00Z', 400, 'location'],
        ['/api/v1/emissions/average-carbon-intensity?location=ERCO&startTime=2022-05-16T10:00Z&endTime=2022-05-16T10:00Z', 400, 'endTime'],
        ['/api/v1/emissions/average-carbon-intensity?location=ERCO&startTime=2022-05-16T11:00Z&endTime=2022-05-16T14:00Z', 400, 'endTime'],
        ['/api/v1/emissions/average-carbon-intensity?location=ERCO&startTime=2022-05-16T09:00Z&endTime=2022-05-16T11:00Z', 400, 'startTime'],
      ];
      for (const [url, status, field] of cases) {
        const res = await app.inject(url);
        assert.equal(res.statusCode, status, url);
        assert.match(res.headers['content-type'] as string, /problem\+json/, url);
        assert.equal(res.json().field, field, url);
      }
    });

    it('documents every SDK endpoint in OpenAPI, with the datetime rule', async () => {
      const doc = (await app.inject('/api/v1/openapi.json')).json();
      for (const path of ['/api/v1/emissions/forecasts/current', '/api/v1/emissions/bylocation', '/api/v1/emissions/bylocations', '/api/v1/emissions/bylocations/best', '/api/v1/emissions/average-carbon-intensity']) {
        assert.match(doc.paths[path]?.get?.description ?? '', /without an offset (are|is) UTC/, path);
      }
      for (const path of ['/api/v1/emissions/forecasts/batch', '/api/v1/emissions/average-carbon-intensity/batch']) {
        assert.match(doc.paths[path]?.post?.description ?? '', /gCO2eq\/kWh/, path);
      }
      assert.match(doc.paths['/api/v1/emissions/bylocations/best'].get.description, /EIA BA code/);
    });
  });

  describe(`every datetime query parameter of the API reads the same way on ${target.name}`, () => {
    let db: Db;
    let app: FastifyInstance;
    before(async () => {
      db = await target.open();
      await migrate(db);
      await new PointStore(db, pino({ level: 'silent' }), 'eia').store(fixturePoints());
      app = await createHttp(pino({ level: 'silent' }));
      await intensityRoutes(app, { db, cache: memoryCache(), logger: pino({ level: 'silent' }) });
      seriesRoutes(app, db);
      pipelineRoutes(app, db);
    });
    after(async () => { await app.close(); await db.close(); });

    it('without an offset: UTC, the same answer as with Z', async () => {
      for (const path of ['/api/v1/observations?series=ERCO.fuel.NG&', '/api/v1/bas/ERCO/intensity?', '/api/v1/pipeline/checks?']) {
        const zoned = await app.inject(`${path}from=2022-05-16T10:00:00Z&to=2022-05-16T12:00:00Z`);
        const bare = await app.inject(`${path}from=2022-05-16T10:00:00&to=2022-05-16T12:00`);
        assert.equal(bare.statusCode, 200, path);
        assert.deepEqual({ ...bare.json<object>(), generatedAt: null }, { ...zoned.json<object>(), generatedAt: null }, path);
      }
      const obs = (await app.inject('/api/v1/observations?series=ERCO.fuel.NG&from=2022-05-16T10:00:00&to=2022-05-16T12:00:00')).json();
      assert.deepEqual(obs.data.map((o: { value: number }) => o.value), [100, 50]);
      const intensity = (await app.inject('/api/v1/bas/ERCO/intensity?from=2022-05-16T10:00:00&to=2022-05-16T12:00:00')).json();
      assert.deepEqual(intensity.points.map((p: { ts: string; value: number }) => [p.ts, p.value]), [['2022-05-16T10:00:00.000Z', 490], ['2022-05-16T11:00:00.000Z', 250.5]]);
    });

    it("a '+' sent as a space: 400 naming the field and saying to encode it as %2B", async () => {
      for (const path of ['/api/v1/observations?series=ERCO.fuel.NG&', '/api/v1/bas/ERCO/intensity?', '/api/v1/pipeline/checks?']) {
        const res = await app.inject(`${path}from=2022-05-16T10:00:00+01:00&to=2022-05-16T12:00:00Z`);
        assert.equal(res.statusCode, 400, path);
        assert.equal(res.json().field, 'from', path);
        assert.match(res.json().detail, /%2B/, path);
        const encoded = await app.inject(`${path}from=2022-05-16T11:00:00%2B01:00&to=2022-05-16T12:00:00Z`);
        assert.equal(encoded.statusCode, 200, path);
      }
    });
  });
}
