import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { knownUntil, persistenceForecast, runBacktest, type BacktestInput } from './backtest.ts';
import { parsePriceFile } from '../prices/price-files.ts';
import { sharedDataTest, sharedPath } from '../../../test/support/shared-data.ts';

const NY = 'America/New_York';
const hoursFrom = (iso: string, n: number) => Array.from({ length: n }, (_, i) => new Date(Date.parse(iso) + i * 3_600_000));

test('day-ahead publication: before 12:00 local the plan sees today only, from 12:00 also tomorrow (DST days included)', () => {
  const hours = hoursFrom('2024-11-02T04:00:00Z', 96); // from Nov 2 00:00 EDT; Nov 3 has 25 local hours
  // 11:00 EDT Nov 2 (index 11): known until Nov 3 00:00 EDT = 04:00Z → index 24
  assert.equal(knownUntil(hours, 11, NY), 24);
  // 12:00 EDT Nov 2 (index 12): Nov 3 is published → known until Nov 4 00:00 EST = 05:00Z Nov 4 → index 49 (25-hour day)
  assert.equal(knownUntil(hours, 12, NY), 49);
  // never beyond the data or 48 hours
  assert.equal(knownUntil(hours, 90, NY), 96);
});

test('persistence stand-in: a forecast made at t only uses hours observed before t', () => {
  const actual = Array.from({ length: 100 }, (_, i) => i);
  const f = persistenceForecast(actual);
  assert.equal(f(50, 50), 26);   // lead 0 → same hour yesterday
  assert.equal(f(50, 73), 49);   // lead 23 → 24 h back, the newest observed
  assert.equal(f(50, 74), 26);   // lead 24 → 48 h back (24 h back is not observed yet)
  assert.equal(f(10, 10), null); // nothing observed a day before
});

test('replay: a spike published at 12:00 the day before is cashed; perfect foresight is never beaten', async () => {
  // flat $0.05 except a $1 spike at 18:00 local on day 2; the battery starts empty
  const hours = hoursFrom('2024-03-11T04:00:00Z', 72);
  const price = hours.map((_, i) => (i === 24 + 18 ? 1 : 0.05));
  const input: BacktestInput = {
    hours, importPrice: price, exportPrice: price, loadKW: hours.map(() => 1), intensity: null,
    battery: { capacityKWh: 10, powerKW: 5, chargeEfficiency: 0.95, dischargeEfficiency: 0.95 }, timeZone: 'America/New_York', carbonPrice: 0, degradationCost: 0,
  };
  const r = await runBacktest(input);
  assert.ok(r.optimized.cost < r.noBattery.cost - 1, `optimized ${r.optimized.cost} should cash the spike (no battery ${r.noBattery.cost})`);
  assert.ok(r.perfect.cost <= r.optimized.cost + 1e-9);
  assert.equal(r.optimized.fallbackHours, 0);
  assert.equal(r.rule.throughputKWh > 0, true);
});

test('real PJM prices (Western Hub DA, Jan–Feb 2024; 13.5 kWh / 5 kW / 90 %, 1 kW load, wholesale pass-through): savings ≥ 10 %, ≥ 90 % of perfect', sharedDataTest(), async () => {
  const file = parsePriceFile(readFileSync(sharedPath('prices/pjm/pjm_western_hub_da_hrl_lmps_2024.csv'), 'utf8'));
  const pts = file.points.slice(0, 24 * 60);
  const price = pts.map((p) => p.price / 1000);
  const r = await runBacktest({
    hours: pts.map((p) => p.ts), importPrice: price, exportPrice: price, loadKW: pts.map(() => 1), intensity: null,
    battery: { capacityKWh: 13.5, powerKW: 5, chargeEfficiency: Math.sqrt(0.9), dischargeEfficiency: Math.sqrt(0.9) },
    timeZone: NY, carbonPrice: 0, degradationCost: 0,
  });
  assert.ok(r.savingsPct >= 10, `savingsPct ${r.savingsPct}`);
  assert.ok(r.pctOfPerfect >= 90, `pctOfPerfect ${r.pctOfPerfect}`);
  assert.ok(r.perfect.cost <= r.optimized.cost + 1e-6 && r.optimized.cost < r.rule.cost && r.rule.cost <= r.noBattery.cost);
});
