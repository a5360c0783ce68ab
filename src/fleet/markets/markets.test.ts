import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { testDatabases } from '../../../test/support/databases.ts';
import { sharedDataTest, sharedPath } from '../../../test/support/shared-data.ts';
import { migrate } from '../../platform/migrate.ts';
import { backgroundCurves, clearHour, type Step } from './market-clearing.ts';
import { deviceFlexibility, fleetEnergyEnvelope, fleetFlexibility, hourStarts, type DeviceState } from './flexibility.ts';
import { buildBids } from './bids.ts';
import { dispatchAwards, feasibleQuantities } from './dispatch.ts';
import { energyByHour, totalDeliveryRatio } from './delivery.ts';
import { readPriceFileByHour } from '../prices/price-files.ts';
import { SimulatedDayAheadMarket } from './market-adapter.ts';
import { runDayAhead, settleRun, type ScheduleSink } from './market-run.ts';
import { simulateDelivery, simulatedFleet } from './simulated-day.ts';

const step = (id: string, side: 'sell' | 'buy', quantityMw: number, priceUsdPerMwh: number): Step => ({ id, side, quantityMw, priceUsdPerMwh });

describe('uniform-price clearing', () => {
  it('hand-solved hours: marginal offer, marginal bid, a crossing between steps, nothing to trade', () => {
    const a = clearHour([step('s1', 'sell', 10, 5), step('s2', 'sell', 10, 15), step('d1', 'buy', 15, 20)]);
    assert.deepEqual([a.priceUsdPerMwh, a.volumeMw, a.awards.get('s1'), a.awards.get('s2'), a.awards.get('d1')], [15, 15, 10, 5, 15]);
    const b = clearHour([step('s1', 'sell', 30, 10), step('d1', 'buy', 10, 50), step('d2', 'buy', 10, 30)]);
    assert.deepEqual([b.priceUsdPerMwh, b.volumeMw], [10, 20], 'supply left over: the marginal offer sets the price');
    const c = clearHour([step('s1', 'sell', 10, 10), step('s2', 'sell', 10, 40), step('d1', 'buy', 10, 30), step('d2', 'buy', 10, 20)]);
    assert.deepEqual([c.priceUsdPerMwh, c.volumeMw], [25, 10], 'between steps: midpoint of 20 (next bid) and 30 (last bid) — the binding range is [20, 30]');
    const d = clearHour([step('s1', 'sell', 10, 50), step('d1', 'buy', 10, 40)]);
    assert.ok(Number.isNaN(d.priceUsdPerMwh));
    assert.equal(d.volumeMw, 0);
  });

  it('properties: balance, every accepted offer at or below the price, every accepted bid at or above, cheaper offers filled first', () => {
    const stepArb = fc.record({ side: fc.constantFrom('sell' as const, 'buy' as const), quantityMw: fc.double({ min: 0.1, max: 50, noNaN: true }), priceUsdPerMwh: fc.integer({ min: -50, max: 300 }) });
    fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 30 }), (raw) => {
      const steps = raw.map((s, i) => ({ ...s, id: `x${i}` }));
      const r = clearHour(steps);
      const sold = steps.filter((s) => s.side === 'sell').reduce((t, s) => t + (r.awards.get(s.id) ?? 0), 0);
      const bought = steps.filter((s) => s.side === 'buy').reduce((t, s) => t + (r.awards.get(s.id) ?? 0), 0);
      assert.ok(Math.abs(sold - bought) < 1e-6 && Math.abs(sold - r.volumeMw) < 1e-6);
      for (const s of steps) {
        const q = r.awards.get(s.id) ?? 0;
        assert.ok(q <= s.quantityMw + 1e-9);
        if (q > 1e-9) assert.ok(s.side === 'sell' ? s.priceUsdPerMwh <= r.priceUsdPerMwh + 1e-9 : s.priceUsdPerMwh >= r.priceUsdPerMwh - 1e-9);
        if (r.volumeMw > 0 && s.side === 'sell' && s.priceUsdPerMwh < r.priceUsdPerMwh - 1e-9) assert.ok(Math.abs(q - s.quantityMw) < 1e-6, 'an offer below the price is filled');
        if (r.volumeMw > 0 && s.side === 'buy' && s.priceUsdPerMwh > r.priceUsdPerMwh + 1e-9) assert.ok(Math.abs(q - s.quantityMw) < 1e-6, 'a bid above the price is filled');
      }
    }));
  });

  it('the background market built from a real price clears at that price, negative prices too; a large sale lowers it', () => {
    fc.assert(fc.property(fc.double({ min: -100, max: 1000, noNaN: true }), (p) => {
      assert.ok(Math.abs(clearHour(backgroundCurves('h', p)).priceUsdPerMwh - p) < 1e-6);
    }));
    const alone = clearHour(backgroundCurves('h', 40)).priceUsdPerMwh;
    const withSale = clearHour([...backgroundCurves('h', 40), step('big', 'sell', 300, 0)]).priceUsdPerMwh;
    assert.ok(withSale < alone);
  });
});

const battery = (over: Partial<DeviceState> = {}): DeviceState => ({
  id: 'b1', capacityKwh: 10, maxChargeKw: 5, maxDischargeKw: 5, soc: 0.5, reserveSoc: 0.2, maxSoc: 1, chargeEfficiency: 1, dischargeEfficiency: 1, online: true, ...over,
});

describe('flexibility and bids', () => {
  const hours = hourStarts(new Date('2024-07-15T04:00:00Z'), 24);

  it('hand case: 10 kWh at 50 %, reserve 20 %, margin 3 %: up is 2.7 kW (energy-bound), down 4.7 kW; offline offers nothing', () => {
    const [h] = deviceFlexibility(battery(), hours.slice(0, 1));
    assert.ok(Math.abs(h!.upKw - 2.7) < 1e-9 && Math.abs(h!.downKw - 4.7) < 1e-9);
    const planned = deviceFlexibility(battery(), hours.slice(0, 1), new Map([[hours[0]!, 2]]));
    assert.ok(Math.abs(planned[0]!.upKw - 4.7) < 1e-9, 'a planned charge of 2 kW can be cancelled and turned into discharge');
    assert.deepEqual(deviceFlexibility(battery({ online: false }), hours.slice(0, 2)).map((h2) => [h2.upKw, h2.downKw]), [[0, 0], [0, 0]]);
  });

  it('property: headroom never breaks power limits nor the reserve and ceiling less the margin; older telemetry offers less', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 0.5, noNaN: true }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 600 }), (soc, reserve, kw, age) => {
      const d = battery({ soc, reserveSoc: reserve, maxChargeKw: kw, maxDischargeKw: kw, socAgeMinutes: age });
      const [h] = deviceFlexibility(d, hours.slice(0, 1));
      const margin = 0.03 + 0.01 * age / 60;
      assert.ok(h!.upKw >= 0 && h!.upKw <= kw + 1e-9 && h!.downKw >= 0 && h!.downKw <= kw + 1e-9);
      assert.ok(soc * 10 - h!.upKw >= (reserve + margin) * 10 - 1e-9 || h!.upKw === 0);
      assert.ok(soc * 10 + h!.downKw <= (1 - margin) * 10 + 1e-9 || h!.downKw === 0);
      const [fresh] = deviceFlexibility({ ...d, socAgeMinutes: 0 }, hours.slice(0, 1));
      assert.ok(fresh!.upKw >= h!.upKw - 1e-12);
    }));
  });

  it('property: any set of awards within the bids is feasible: sells ≤ energy above reserve, buys ≤ room, and a flat price bids nothing', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: -20, max: 400, noNaN: true }), { minLength: 24, maxLength: 24 }), fc.integer({ min: 1, max: 40 }), (prices, n) => {
      const devices = simulatedFleet({ devices: n, seed: n });
      const forecast = new Map(hours.map((h, i) => [h, prices[i]!]));
      const envelope = fleetEnergyEnvelope(devices);
      const bids = buildBids(fleetFlexibility(devices, hours), envelope, forecast, {}, (side, q) => feasibleQuantities(devices, side, q));
      const sells = bids.filter((b) => b.side === 'sell').reduce((s, b) => s + b.quantityMw, 0);
      const buys = bids.filter((b) => b.side === 'buy').reduce((s, b) => s + b.quantityMw, 0);
      assert.ok(sells <= envelope.dischargeMwh + 1e-9 && buys <= envelope.chargeMwh + 1e-9);
      const minSell = Math.min(...bids.filter((b) => b.side === 'sell').map((b) => b.priceUsdPerMwh));
      const maxBuy = Math.max(...bids.filter((b) => b.side === 'buy').map((b) => b.priceUsdPerMwh));
      assert.ok(minSell > maxBuy, 'the fleet never offers to sell below what it bids to buy');
      // dispatching every bid in full keeps every device inside its limits
      const net = new Map<number, number>();
      for (const b of bids) net.set(b.hour, (net.get(b.hour) ?? 0) + (b.side === 'sell' ? b.quantityMw : -b.quantityMw));
      const { schedules, shortfallMwh } = dispatchAwards([...net].map(([hour, netMw]) => ({ hour, netMw })), devices);
      assert.equal(shortfallMwh, 0, `every bid can be delivered in full (short ${shortfallMwh} MWh)`);
      for (const d of devices) {
        let e = d.soc * d.capacityKwh;
        for (const iv of schedules.get(d.id) ?? []) {
          assert.ok(iv.powerKw! <= 5 + 1e-9);
          e += iv.action === 'charge' ? iv.powerKw! * 0.95 : -iv.powerKw! / 0.95;
          assert.ok(e >= d.reserveSoc * d.capacityKwh - 1e-6 && e <= 0.95 * d.capacityKwh + 1e-6, `${d.id} stays between reserve and maxSoc`);
        }
      }
    }), { numRuns: 60, examples: [
      // CI found it: trimmed to the watt-rounded sum of the first pass, 29 devices were short 2 W in the second expensive hour
      [[0, 0, 399.9999999999989, 0, 399.999999999999, ...Array<number>(19).fill(0)], 29],
    ] });
    assert.deepEqual(buildBids(fleetFlexibility(simulatedFleet({ devices: 5 }), hours), { dischargeMwh: 1, chargeMwh: 1 }, new Map(hours.map((h) => [h, 42]))), []);
  });

  it('dispatch rounds each device\'s power to the watt but never above its headroom (a 3.3335 kW limit is not asked for 3.334)', () => {
    // full enough to discharge at the limit for the hour, empty enough to charge at it: power-bound both ways
    for (const [netMw, limit, soc] of [[0.0033335, 3.3335, 0.9], [-0.0020007, 2.0007, 0.3]] as const) {
      const d = battery({ id: 'odd', maxDischargeKw: 3.3335, maxChargeKw: 2.0007, soc });
      const { schedules } = dispatchAwards([{ hour: hours[0]!, netMw }], [d]);
      const [iv] = schedules.get('odd')!;
      assert.ok(iv!.powerKw! <= limit, `${iv!.action} ${iv!.powerKw} kW within ${limit} kW`);
      assert.ok(iv!.powerKw! >= limit - 0.001);
    }
  });

  it('with a plan, an award is a deviation from it: plan plus share in the awarded hour, and the SoC follows the plan between', () => {
    const d = battery({ id: 'p1', soc: 0.5 }); // 5 kWh, floor (20 % + 3 %) 2.3 kWh, efficiencies 1
    const plan = new Map([[hours[0]!, 2], [hours[1]!, 2]]); // charge 2 kW in the first two hours
    // a 3 kW share of a sale in hour 0: the planned charge becomes a 1 kW discharge
    const first = dispatchAwards([{ hour: hours[0]!, netMw: 0.003 }], [d], new Map([['p1', plan]]));
    assert.deepEqual(first.schedules.get('p1')!.map((iv) => [iv.action, iv.powerKw]), [['discharge', 1]]);
    // exactly the planned charge sold back: idle
    const idle = dispatchAwards([{ hour: hours[0]!, netMw: 0.002 }], [d], new Map([['p1', plan]]));
    assert.deepEqual(idle.schedules.get('p1')!.map((iv) => iv.action), ['idle']);
    // a sale in hour 2 finds the 4 kWh the plan charged in hours 0 and 1: 9 − 2.3 = 6.7 kWh above the floor, 5 kW
    // of power; without the plan's charge it would find 2.7 kWh and fall short
    const later = dispatchAwards([{ hour: hours[2]!, netMw: 0.005 }], [d], new Map([['p1', plan]]));
    assert.equal(later.shortfallMwh, 0);
    assert.deepEqual(later.schedules.get('p1')!.map((iv) => [iv.action, iv.powerKw]), [['discharge', 5]]);
    assert.ok(dispatchAwards([{ hour: hours[2]!, netMw: 0.005 }], [d]).shortfallMwh > 0.002, 'without the plan the battery is short');
  });

  it('energy from telemetry: power holds until the next sample, at most 5 minutes; a silent device counts nothing', () => {
    const t0 = Date.parse('2024-07-15T16:00:00Z');
    const samples = [0, 1, 2, 3].map((k) => ({ deviceId: 'a', at: new Date(t0 + k * 300_000).toISOString(), powerKw: -6 }));
    const e = energyByHour(samples);
    assert.ok(Math.abs(e.get(t0)! - (-6 * 20 / 60 / 1000)) < 1e-12);
  });
});

describe('PJM price files', () => {
  it('keys on UTC: 2024 Western Hub day-ahead has the fall-back day\'s 25 local hours as 25 distinct UTC hours', sharedDataTest(), async () => {
    const prices = await readPriceFileByHour(sharedPath('prices', 'pjm', 'pjm_western_hub_da_hrl_lmps_2024.csv'));
    assert.ok(prices.size >= 8700, `${prices.size} hours`);
    assert.equal(prices.get(Date.UTC(2024, 0, 1, 5)), 19.97604);
    // 2024-11-03 EDT→EST: local midnight to midnight spans 04:00Z … 05:00Z next day = 25 hours, all present
    const fallBack = [...prices.keys()].filter((t) => t >= Date.UTC(2024, 10, 3, 4) && t < Date.UTC(2024, 10, 4, 5));
    assert.equal(fallBack.length, 25);
  });

  it('a plain CSV without an offset is refused naming its line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gp-prices-'));
    writeFileSync(path.join(dir, 'p.csv'), 'ts,price\n2024-01-01T00:00:00Z,10\n2024-01-01T01:00:00,11\n');
    await assert.rejects(readPriceFileByHour(path.join(dir, 'p.csv')), /p\.csv:3/);
  });
});

for (const target of testDatabases()) {
  describe(`a simulated day-ahead market day on real PJM prices (${target.name})`, () => {
    it('clears, dispatches the awards as schedules, and the 1,000-device fleet delivers ≥ 95 % of them (with devices going offline)', sharedDataTest(), async () => {
      const db = await target.open();
      try {
        await migrate(db);
        const prices = await readPriceFileByHour(sharedPath('prices', 'pjm', 'pjm_western_hub_da_hrl_lmps_2024.csv'));
        const rt = await readPriceFileByHour(sharedPath('prices', 'pjm', 'pjm_western_hub_rt_hrl_lmps_2024.csv'));
        const dayStart = new Date('2024-07-16T04:00:00Z'); // a summer day, midnight EDT
        const devices = simulatedFleet({ devices: 1000, seed: 7 });
        const market = new SimulatedDayAheadMarket(prices, { realTime: rt });
        const submitted: Array<{ id: string; n: number }> = [];
        const sink: ScheduleSink = { submit: async (id, intervals) => { submitted.push({ id, n: intervals.length }); } };
        // the day-ahead forecast: the day's own published day-ahead prices (known before the gate closes)
        const forecast = new Map(hourStarts(dayStart, 24).map((h) => [h, prices.get(h)!]));
        const run = await runDayAhead({ db, logger: pino({ level: 'silent' }), market, sink }, { dayStart, devices, forecast, node: 'PJM WESTERN HUB' });
        const sold = run.awards.reduce((s, a) => s + Math.max(0, a.netMw), 0);
        const bought = run.awards.reduce((s, a) => s + Math.max(0, -a.netMw), 0);
        assert.ok(sold > 1 && bought > 1, `the fleet sells and buys (sold ${sold.toFixed(2)} MWh, bought ${bought.toFixed(2)} MWh)`);
        const sellHours = run.awards.filter((a) => a.netMw > 0).map((a) => prices.get(a.hour)!);
        const buyHours = run.awards.filter((a) => a.netMw < 0).map((a) => prices.get(a.hour)!);
        assert.ok(Math.min(...sellHours) > Math.max(...buyHours), 'sells in dearer hours than it buys');
        assert.equal(run.shortfallMwh, 0);
        assert.ok(submitted.length > 900, 'awarded energy reached the devices\' schedules');
        const [stored] = await db.query<{ bids: number; awards: number; dispatch: number }>(
          `SELECT (SELECT count(*)::int FROM market_bids WHERE run_id = $1) AS bids, (SELECT count(*)::int FROM market_awards WHERE run_id = $1) AS awards,
                  (SELECT count(*)::int FROM market_dispatch WHERE run_id = $1) AS dispatch`, [run.runId]);
        assert.equal(stored!.bids, run.bids.length);
        assert.ok(stored!.awards > 0 && stored!.dispatch > 0);
        const { samples, offlineDevices } = simulateDelivery(devices, run.awards, { devices: 1000, seed: 7, offlineShare: 0.05 });
        assert.ok(offlineDevices >= 20, `some devices went offline (${offlineDevices})`);
        const { report, rows } = await settleRun({ db, market }, run.runId, samples);
        const ratio = totalDeliveryRatio(report)!;
        assert.ok(ratio >= 0.95, `delivered / awarded = ${(ratio * 100).toFixed(1)} %`);
        assert.ok(rows.every((r) => Math.abs(r.revenue - r.awarded * r.price) < 1e-6));
        const [settled] = await db.query<{ status: string; n: number }>(`SELECT status, (SELECT count(*)::int FROM market_settlements WHERE run_id = $1) AS n FROM market_runs WHERE id = $1`, [run.runId]);
        assert.equal(settled!.status, 'settled');
        assert.equal(settled!.n, rows.length);
      } finally {
        await db.close();
      }
    });
  });
}

for (const target of testDatabases()) {
  describe(`market runs API (${target.name})`, () => {
    it('operators read runs with bids, awards, dispatch and delivery per hour; viewers are refused; unknown runs are 404', async () => {
      const { openTestApp } = await import('../../../test/support/app.ts');
      const { authHeaders } = await import('../../../test/support/auth.ts');
      const { db, app } = await openTestApp(target);
      try {
        const dayStart = new Date('2030-01-01T00:00:00Z');
        const hours = hourStarts(dayStart, 24);
        const prices = new Map(hours.map((h, i) => [h, i < 6 ? 10 : i >= 17 && i < 21 ? 200 : 50]));
        const devices = simulatedFleet({ devices: 50, seed: 3 });
        const market = new SimulatedDayAheadMarket(prices);
        const run = await runDayAhead({ db, logger: pino({ level: 'silent' }), market }, { dayStart, devices, forecast: prices });
        const { samples } = simulateDelivery(devices, run.awards, { devices: 50, seed: 3, offlineShare: 0 });
        await settleRun({ db, market }, run.runId, samples);
        const op = await authHeaders(app, db, 'operator');
        const list = await app.inject({ url: '/api/v1/markets/runs', headers: op });
        assert.equal(list.statusCode, 200, list.body);
        const [summary] = list.json().data;
        assert.equal(summary.id, run.runId);
        assert.equal(summary.status, 'settled');
        assert.ok(summary.soldMwh > 0 && summary.deliveredPct > 95, JSON.stringify(summary));
        const one = await app.inject({ url: `/api/v1/markets/runs/${run.runId}`, headers: op });
        assert.equal(one.statusCode, 200, one.body);
        const sold = one.json().hours.filter((h: { soldMw: number }) => h.soldMw > 0);
        assert.ok(sold.length > 0 && sold.every((h: { dispatchedDevices: number; deliveredMwh: number | null }) => h.dispatchedDevices > 0 && h.deliveredMwh !== null));
        assert.equal(one.json().bids.length, run.bids.length);
        assert.equal((await app.inject({ url: '/api/v1/markets/runs/999999', headers: op })).statusCode, 404);
        assert.equal((await app.inject({ url: '/api/v1/markets/runs', headers: await authHeaders(app, db, 'viewer') })).statusCode, 403);
        assert.equal((await app.inject({ url: '/api/v1/markets/runs' })).statusCode, 401);
      } finally {
        await app.close();
        await db.close();
      }
    });
  });
}
