import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_BATTERY, SimulatedBattery } from './battery.ts';
import { FALLBACKS, ACTIONS } from '../messages.ts';

const T0 = Date.parse('2026-12-01T00:00:00Z');

test('charging one hour at 4 kW stores 4 kWh × charge efficiency', async () => {
  let now = T0;
  const b = new SimulatedBattery({ ...DEFAULT_BATTERY, capacityKwh: 10, chargeEfficiency: 0.9 }, () => now, 20);
  await b.apply({ mode: 'charge', powerKw: 4, version: 1, intervalIndex: 0, source: 'schedule' });
  now += 3_600_000;
  const r = await b.read();
  assert.equal(r.socPct, 20 + (4 * 0.9 / 10) * 100);
  assert.equal(r.powerKw, 4);
});

test('discharging draws stored energy / discharge efficiency and stops at min SoC', async () => {
  let now = T0;
  const b = new SimulatedBattery({ ...DEFAULT_BATTERY, capacityKwh: 10, dischargeEfficiency: 0.8, minSoc: 10 }, () => now, 50);
  await b.apply({ mode: 'discharge', powerKw: 2, version: 1, intervalIndex: 0, source: 'schedule' });
  now += 30 * 60_000;
  assert.equal((await b.read()).socPct, 50 - (1 / 0.8 / 10) * 100);
  now += 10 * 3_600_000;
  const r = await b.read();
  assert.equal(r.socPct, 10);
  assert.equal(r.powerKw, 0);
});

test('a target SoC stops charging there; hold-soc moves to the target and stays', async () => {
  let now = T0;
  const b = new SimulatedBattery(DEFAULT_BATTERY, () => now, 40);
  await b.apply({ mode: 'charge', powerKw: 5, targetSoc: 60, version: 1, intervalIndex: 0, source: 'schedule' });
  now += 4 * 3_600_000;
  const soc = (await b.read()).socPct;
  assert.ok(soc >= 60 && soc < 61, `stopped near 60 %, got ${soc}`);
  await b.apply({ mode: 'hold-soc', powerKw: 0, targetSoc: 30, version: 1, intervalIndex: 1, source: 'schedule' });
  now += 6 * 3_600_000;
  assert.ok(Math.abs((await b.read()).socPct - 30) < 0.5);
});

test('whatever the commands, SoC stays inside [min, max] and power inside the ratings', async () => {
  await fc.assert(fc.asyncProperty(
    fc.array(fc.record({ mode: fc.constantFrom(...ACTIONS, ...FALLBACKS), powerKw: fc.double({ min: 0, max: 50, noNaN: true }), minutes: fc.integer({ min: 1, max: 600 }), target: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }) }), { minLength: 1, maxLength: 20 }),
    fc.integer({ min: 0, max: 100 }),
    async (steps, initial) => {
      let now = T0;
      const spec = { ...DEFAULT_BATTERY, minSoc: 10, maxSoc: 90 };
      const b = new SimulatedBattery(spec, () => now, initial);
      for (const s of steps) {
        await b.apply({ mode: s.mode, powerKw: s.powerKw, version: 1, source: 'schedule', ...(s.target !== undefined ? { targetSoc: s.target } : {}) });
        now += s.minutes * 60_000;
        const r = await b.read();
        assert.ok(r.socPct >= spec.minSoc - 1e-9 && r.socPct <= spec.maxSoc + 1e-9, `SoC ${r.socPct}`);
        assert.ok(r.powerKw <= spec.maxChargeKw + 1e-9 && r.powerKw >= -spec.maxDischargeKw - 1e-9, `power ${r.powerKw}`);
      }
    }), { numRuns: 60 });
});
