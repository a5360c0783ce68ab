import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { baEmissionFactors, resolveEgridFactors } from './emission-factors.ts';
import { defaultFactor } from '../analytics/intensity/factors.ts';
import { plant, plantFromCodes, readCodeCsv } from './egrid-test-support.ts';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';

test('a BA fuel factor is the generation-weighted CO2 rate of its plants, lb/MWh × 0.4536 = kg/MWh', () => {
  const [miso] = baEmissionFactors([
    plant({ orispl: 1, fuelCategory: 'GAS', netGenerationMwh: 1000, co2ShortTons: 400 }), // 800 lb/MWh
    plant({ orispl: 2, fuelCategory: 'GAS', netGenerationMwh: 3000, co2ShortTons: 1800 }), // 1,200 lb/MWh
    plant({ orispl: 3, fuelCategory: 'GAS', netGenerationMwh: -20, co2ShortTons: 5 }), // a net consumer weighs nothing
    plant({ orispl: 4, fuelCategory: 'WIND', netGenerationMwh: 500, co2ShortTons: null }),
  ]);
  const gas = miso!.factors.find((f) => f.fuel === 'NG')!;
  assert.equal(gas.lbPerMwh, 1100); // 2000 × 2200 / 4000
  assert.ok(Math.abs(gas.value - 1100 * 0.4536) < 1e-9);
  assert.equal(gas.plants, 2);
  assert.equal(miso!.factors.find((f) => f.fuel === 'WND')!.value, 0);
});

test('the factor of a BA and fuel lies between its plants\' lowest and highest rates', () => {
  fc.assert(fc.property(fc.array(fc.record({ gen: fc.double({ min: 1, max: 1e6, noNaN: true }), rate: fc.double({ min: 0, max: 3000, noNaN: true }) }), { minLength: 1, maxLength: 20 }), (rows) => {
    const [ba] = baEmissionFactors(rows.map((r, i) => plant({ orispl: i, netGenerationMwh: r.gen, co2ShortTons: (r.rate * r.gen) / 2000 })));
    const lb = ba!.factors[0]!.lbPerMwh;
    const rates = rows.map((r) => r.rate);
    return lb >= Math.min(...rates) - 1e-6 && lb <= Math.max(...rates) + 1e-6;
  }));
});

test('fuels a BA has no eGRID plants of fall back to the lifecycle set and are named; storage has no factor', () => {
  const [own] = baEmissionFactors([plant({ fuelCategory: 'COAL', netGenerationMwh: 100, co2ShortTons: 100 })]);
  const r = resolveEgridFactors('eGRID2022', 'MISO', own, ['COL', 'NG', 'WND', 'BAT', 'SNB']);
  assert.equal(r.factors.COL, 2000 * 0.4536);
  assert.equal(r.factors.NG, defaultFactor('NG', 'lifecycle'));
  assert.deepEqual(r.fellBack, ['NG', 'SNB', 'WND']);
  assert.equal(r.factors.BAT, undefined);
});

test('eGRID2022 MISO factors from the real MROW plant file: coal above gas above zero-carbon, in a plausible range', sharedDataTest(), () => {
  const plants = readCodeCsv(sharedPath('egrid', 'egrid2022_PLNT22_MROW_and_NE_subset.csv')).map(plantFromCodes);
  const miso = baEmissionFactors(plants).find((b) => b.ba === 'MISO')!;
  const f = Object.fromEntries(miso.factors.map((x) => [x.fuel, x.value]));
  assert.ok(f.COL! > 900 && f.COL! < 1200, `coal ${f.COL} kg/MWh`);
  assert.ok(f.NG! > 250 && f.NG! < f.COL!, `gas ${f.NG} kg/MWh`);
  assert.ok(f.WND! < 1 && f.SUN! < 1, `wind ${f.WND}, solar ${f.SUN} kg/MWh`);
});
