import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../../../test/support/databases.ts';
import { migrate } from '../../platform/migrate.ts';
import { closeWorkerPool } from '../../platform/off-loop.ts';
import { attachMetrics, Metrics } from '../../platform/metrics.ts';
import type { Db } from '../../platform/db.ts';
import { scheduleInterval, type ScheduleInterval } from '../messages.ts';
import { importPrices } from '../prices/price-repository.ts';
import { storedIntensityForecasts } from './intensity-source.ts';
import { createObject } from '../../openadr/openadr-repository.ts';
import { loadDevices, optimizerMetrics, planOffLoop, planToIntervals, replanDevice, replanFleet, type DeviceState, type ScheduleIssuer } from './mpc.ts';

test('plan → schedule intervals: net power per step, idle under 10 W, equal neighbours merged, SoC targets in percent', () => {
  const start = new Date('2025-03-10T10:00:00Z');
  const intervals = planToIntervals({ chargeKW: [2, 2, 0, 0, 0, 1], dischargeKW: [0, 0, 0, 3, 3, 1.005], socKWh: [2, 4, 4, 1, 0, 0] }, start, 60, 10);
  assert.deepEqual(intervals, [
    { start: '2025-03-10T10:00:00.000Z', end: '2025-03-10T12:00:00.000Z', action: 'charge', powerKw: 2, targetSoc: 40 },
    { start: '2025-03-10T12:00:00.000Z', end: '2025-03-10T13:00:00.000Z', action: 'idle' },
    { start: '2025-03-10T13:00:00.000Z', end: '2025-03-10T15:00:00.000Z', action: 'discharge', powerKw: 3, targetSoc: 0 },
    { start: '2025-03-10T15:00:00.000Z', end: '2025-03-10T16:00:00.000Z', action: 'idle' },
  ]);
  for (const i of intervals) assert.equal(scheduleInterval.safeParse(i).success, true);
});

const device = (over: Partial<DeviceState> = {}): DeviceState => ({
  id: 'bat-0001', baCode: 'PJM', socPct: 20, loadKW: 1,
  battery: { capacityKWh: 13.5, powerKW: 5, chargeEfficiency: 0.95, dischargeEfficiency: 0.95, reserveKWh: 1.35 },
  ...over,
});

for (const target of testDatabases()) {
  describe(`model predictive control on ${target.name}`, () => {
    let db: Db;
    const issued: Array<{ deviceId: string; intervals: ScheduleInterval[]; note: string }> = [];
    const issue: ScheduleIssuer = async (deviceId, intervals, note) => { issued.push({ deviceId, intervals, note }); return { version: issued.length }; };
    const logger = pino({ level: 'silent' });
    const now = new Date('2025-03-10T10:30:00Z');
    before(async () => {
      db = await target.open(); await migrate(db);
      // prices for the next 36 hours: cheap nights, an evening peak
      const points = Array.from({ length: 36 }, (_, i) => {
        const ts = new Date(Date.UTC(2025, 2, 10, 10 + i));
        const hour = ts.getUTCHours();
        return { ts, price: hour >= 21 && hour < 24 ? 180 : hour >= 5 && hour < 10 ? 15 : 40 };
      });
      await importPrices(db, 'PJM', 'TEST HUB', points);
      await db.query(`INSERT INTO device_tariffs (device_id, tariff) VALUES ($1, $2::text::jsonb)`,
        ['bat-0001', JSON.stringify({ kind: 'dynamic', priceSeries: 'PJM.price.TEST_HUB', adders: 0.05, exportCredit: { kind: 'same' } })]);
    });
    after(async () => { await closeWorkerPool(); await db.close(); });

    test('a re-plan on a worker thread becomes the device\'s next schedule and is stored with its expected savings', async () => {
      const r = await replanDevice({ db, logger, issue, plan: planOffLoop }, device(), now);
      assert.deepEqual([r.outcome, r.method, r.version], ['planned', 'lp', 1]);
      const { intervals, note } = issued.at(-1)!;
      assert.equal(note, 'optimizer: LP plan');
      assert.equal(intervals[0]!.start, '2025-03-10T10:30:00.000Z');      // now: a schedule never starts in the past
      assert.equal(intervals.at(-1)!.end, '2025-03-11T22:00:00.000Z');       // 36 published hours
      for (const i of intervals) assert.equal(scheduleInterval.safeParse(i).success, true, JSON.stringify(i));
      // it discharges in the 21:00–24:00 UTC peak
      assert.ok(intervals.some((i) => i.action === 'discharge' && i.start <= '2025-03-10T21:00:00.000Z' && i.end > '2025-03-10T21:00:00.000Z'), JSON.stringify(intervals));
      const [row] = await db.query<{ method: string; cost_usd: number; no_battery_cost_usd: number }>('SELECT method, cost_usd, no_battery_cost_usd FROM optimizer_plans WHERE device_id = $1', ['bat-0001']);
      assert.equal(row?.method, 'lp');
      assert.ok(Number(row!.cost_usd) < Number(row!.no_battery_cost_usd), JSON.stringify(row));
    });

    test('re-plans only when prices or the reported SoC change', async () => {
      const before = issued.length;
      assert.equal((await replanDevice({ db, logger, issue }, device(), now)).outcome, 'unchanged');
      assert.equal(issued.length, before);
      assert.equal((await replanDevice({ db, logger, issue }, device({ socPct: 80 }), now)).outcome, 'planned');
      await importPrices(db, 'PJM', 'TEST HUB', [{ ts: new Date(Date.UTC(2025, 2, 10, 22)), price: 400 }]);
      assert.equal((await replanDevice({ db, logger, issue }, device({ socPct: 80 }), now)).outcome, 'planned');
      assert.equal(issued.length, before + 2);
    });

    test('without published prices there is nothing to plan; the solver failing plans by the rule and says so', async () => {
      assert.equal((await replanDevice({ db, logger, issue }, device(), new Date('2030-01-01T00:00:00Z'))).outcome, 'no-prices');
      const r = await replanDevice({ db, logger, issue, plan: async (input) => (await import('./lp.ts')).plan({ ...input, timeLimitS: 0 }) }, device({ socPct: 55 }), now);
      assert.equal(r.method, 'rule-fallback');
      assert.match(issued.at(-1)!.note, /rule plan \(solver failed/);
    });

    test('stored intensity forecasts are used as they were made: at each hour the newest run made by then answers', async () => {
      const run = async (madeAt: string, value: number) => {
        await db.query(`INSERT INTO forecast_runs (ba_code, target, made_at, model, source, data_through, train_rows) VALUES ('PJM', 'intensity', $1, 'test', 'eia', $1, 1)`, [madeAt]);
        for (let i = 0; i < 48; i++) {
          await db.query(`INSERT INTO forecasts (ba_code, target, made_at, ts, value, low, high, model) VALUES ('PJM', 'intensity', $1, $2, $3, $3, $3, 'test')`,
            [madeAt, new Date(Date.parse(madeAt) + i * 3_600_000), value + i]);
        }
      };
      await run('2025-03-09T00:00:00Z', 300);
      await run('2025-03-10T06:00:00Z', 500);
      const f = (await storedIntensityForecasts(db, 'PJM', new Date('2025-03-10T00:00:00Z'), new Date('2025-03-11T00:00:00Z')))!;
      const at = (t: string, h: string) => f(new Date(t), new Date(h));
      assert.equal(at('2025-03-10T05:00:00Z', '2025-03-10T08:00:00Z'), 300 + 32);  // run of the 9th, 32 h after it was made
      assert.equal(at('2025-03-10T07:00:00Z', '2025-03-10T08:00:00Z'), 500 + 2);   // the newer run, once it exists
      assert.equal(at('2025-03-08T23:00:00Z', '2025-03-09T01:00:00Z'), null);     // nothing made yet
      assert.equal(await storedIntensityForecasts(db, 'CISO', new Date('2025-03-10T00:00:00Z'), new Date('2025-03-11T00:00:00Z')), undefined);
    });

    test('a GHG event aimed at the device\'s BA replaces the intensity of its hours: with a carbon price the plan moves energy from the clean hours to the dirty ones', async () => {
      const d = device({ id: 'bat-ghg', baCode: 'CISO', socPct: 10, loadKW: 2 });
      await db.query(`INSERT INTO device_tariffs (device_id, tariff) VALUES ($1, $2::text::jsonb)`,
        [d.id, JSON.stringify({ kind: 'flat', price: 0.15, exportCredit: { kind: 'none' }, carbonPrice: 200 })]);
      const first = await replanDevice({ db, logger, issue }, d, now);
      assert.equal(first.outcome, 'planned');
      assert.ok(issued.at(-1)!.intervals.every((i) => i.action !== 'charge'), 'no forecast for CISO and a flat price: nothing to gain');
      const prog = await createObject(db, 'PROGRAM', { programName: 'ghg signals', targets: [{ type: 'BALANCING_AUTHORITY', values: ['CISO'] }] });
      const ghg = [50, 50, 50, 900, 900, 900]; // g/kWh from 11:00 UTC
      const ev = await createObject(db, 'EVENT', {
        programID: prog.id, intervalPeriod: { start: '2025-03-10T11:00:00Z', duration: 'PT1H' },
        intervals: ghg.map((v, id) => ({ id, payloads: [{ type: 'GHG', values: [v] }] })),
      });
      const r = await replanDevice({ db, logger, issue }, d, now);
      assert.deepEqual([r.outcome, r.eventIds], ['planned', [ev.id]]);
      const intervals = issued.at(-1)!.intervals;
      const actionAt = (iso: string) => intervals.find((i) => i.start <= iso && iso < i.end)?.action;
      assert.equal(actionAt('2025-03-10T11:30:00.000Z'), 'charge', JSON.stringify(intervals));
      assert.equal(actionAt('2025-03-10T15:30:00.000Z'), 'discharge', JSON.stringify(intervals));
      assert.equal((await replanDevice({ db, logger, issue }, d, now)).outcome, 'unchanged');
      // another BA's device is not targeted
      assert.deepEqual((await replanDevice({ db, logger, issue }, device({ id: 'bat-other', baCode: 'PJM' }), now)).eventIds, []);
    });

    test('the fleet job plans the devices it is given (loadDevices gives only opted-in ones); a device given without a tariff plans on the flat default', async () => {
      assert.deepEqual(await loadDevices(db), []); // no devices provisioned: nothing to do, no error
      const r = await replanFleet({ db, logger, issue }, now, [device({ id: 'bat-0002', socPct: 50 }), device({ socPct: 33 })]);
      assert.deepEqual([r.planned, r.failed], [2, 0]);
    });

    test('solves and re-plan outcomes move in /metrics: optimal, rule fallback, error, with durations; devices by outcome', async () => {
      const metrics = new Metrics({ processMetrics: false });
      attachMetrics(metrics, db);
      const value = async (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(await metrics.render())?.[1] ?? 0);
      optimizerMetrics(metrics); // as the roles do at startup: every outcome exported at 0 before the first solve
      assert.match(await metrics.render(), /^gridpulse_optimizer_solves_total\{outcome="error"\} 0$/m);
      const { plan } = await import('./lp.ts');
      await replanDevice({ db, logger, issue, plan: async (input) => plan(input) }, device({ id: 'bat-met', socPct: 41 }), now, { force: true });
      assert.equal(await value('gridpulse_optimizer_solves_total{outcome="optimal"}'), 1);
      await replanDevice({ db, logger, issue, plan: async (input) => plan({ ...input, timeLimitS: 0 }) }, device({ id: 'bat-met', socPct: 42 }), now, { force: true });
      assert.equal(await value('gridpulse_optimizer_solves_total{outcome="rule_fallback"}'), 1);
      const broken = async () => { throw new Error('solver thread died'); };
      await assert.rejects(replanDevice({ db, logger, issue, plan: broken }, device({ id: 'bat-met', socPct: 43 }), now, { force: true }), /solver thread died/);
      assert.equal(await value('gridpulse_optimizer_solves_total{outcome="error"}'), 1);
      for (const outcome of ['optimal', 'rule_fallback', 'error']) assert.equal(await value(`gridpulse_optimizer_solve_duration_seconds_count{outcome="${outcome}"}`), 1, outcome);
      // the fleet job: a device whose solve throws fails; a device on a dynamic tariff without published prices has none
      assert.equal((await replanFleet({ db, logger, issue, plan: broken }, now, [device({ id: 'bat-met-2', socPct: 44 })])).failed, 1);
      assert.equal((await replanFleet({ db, logger, issue }, new Date('2030-01-01T00:00:00Z'), [device()])).noPrices, 1);
      assert.equal(await value('gridpulse_optimizer_replan_devices_total{outcome="failed"}'), 1);
      assert.equal(await value('gridpulse_optimizer_replan_devices_total{outcome="no_prices"}'), 1);
      assert.equal(await value('gridpulse_optimizer_replan_devices_total{outcome="planned"}'), 0);
      assert.equal(await value('gridpulse_optimizer_solves_total{outcome="error"}'), 2);
    });
  });
}
