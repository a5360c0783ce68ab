import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { aggregatePlants, EGRID_MIX_FUELS, MIX_CODES, nonBaseloadFactor, outputRate, relativeDifference, type PlantFigures } from './egrid-rates.ts';
import { egridNumber, plant, plantFromCodes, readCodeCsv } from './egrid-test-support.ts';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';

const close = (a: number | null, b: number | null, rel: number, what: string) => {
  assert.ok(a !== null && b !== null, `${what}: ${a} vs ${b}`);
  assert.ok(Math.abs(relativeDifference(a, b)!) <= rel, `${what}: computed ${a}, EPA ${b}`);
};

test('output rate is 2,000 × short tons / MWh and null without positive generation', () => {
  assert.equal(outputRate(50, 100), 1000);
  assert.equal(outputRate(50, 0), null);
  assert.equal(outputRate(50, -10), null);
  assert.equal(outputRate(null, 100), null);
});

test('non-baseload factor follows eGRID: 1 under CF 0.2, 0 over 0.8, linear between, none for NUC/WND/SUN/WAT/GEO or an unknown CF', () => {
  assert.equal(nonBaseloadFactor(0.1, 'NG'), 1);
  assert.equal(nonBaseloadFactor(0.9, 'SUB'), 0);
  assert.ok(Math.abs(nonBaseloadFactor(0.5, 'NG')! - 0.5) < 1e-12);
  assert.equal(nonBaseloadFactor(0, 'NG', 1), 1, 'CF rounded to 0 with some generation');
  assert.equal(nonBaseloadFactor(0, 'NG', 0), null, 'nothing generated');
  assert.equal(nonBaseloadFactor(0.3, 'NG', -5), null, 'net consumer');
  assert.equal(nonBaseloadFactor(0, 'NG'), null);
  assert.equal(nonBaseloadFactor(null, 'NG'), null);
  for (const f of ['NUC', 'WND', 'SUN', 'WAT', 'GEO']) assert.equal(nonBaseloadFactor(0.1, f), null);
  fc.assert(fc.property(fc.double({ min: 0.00001, max: 1.5, noNaN: true }), fc.double({ min: 0.00001, max: 1.5, noNaN: true }), (a, b) => {
    const [lo, hi] = a < b ? [a, b] : [b, a];
    const fl = nonBaseloadFactor(lo, 'NG')!, fh = nonBaseloadFactor(hi, 'NG')!;
    return fl >= 0 && fl <= 1 && fh <= fl + 1e-12; // a share, never rising with capacity factor
  }));
});

const plantArb = fc.record({
  state: fc.constantFrom('MN', 'IA', 'ND'), gen: fc.double({ min: -50, max: 1e6, noNaN: true }), co2: fc.double({ min: 0, max: 1e6, noNaN: true }),
  cf: fc.double({ min: 0, max: 1, noNaN: true }), fuel: fc.constantFrom('NG', 'SUB', 'WND'),
}).map((r) => plant({ state: r.state, netGenerationMwh: r.gen, co2ShortTons: r.co2, capacityFactor: r.cf, primaryFuel: r.fuel }));

test('aggregates add up: the US equals the sum of its states, and the US rate is the generation-weighted state rate', () => {
  fc.assert(fc.property(fc.array(plantArb, { minLength: 1, maxLength: 30 }), (plants) => {
    const [us] = aggregatePlants(plants, 'us');
    const states = aggregatePlants(plants, 'state');
    const sum = (f: (a: NonNullable<typeof us>) => number) => states.reduce((s, a) => s + f(a), 0);
    assert.ok(Math.abs(us!.co2Tons - sum((a) => a.co2Tons)) <= 1e-6 * Math.max(1, us!.co2Tons));
    assert.ok(Math.abs(us!.netGenerationMwh - sum((a) => a.netGenerationMwh)) <= 1e-6 * Math.max(1, Math.abs(us!.netGenerationMwh)));
    assert.equal(us!.plants, plants.length);
    if (us!.co2Rate !== null) assert.ok(Number.isFinite(us!.co2Rate) && Math.abs(us!.co2Rate - (2000 * us!.co2Tons) / us!.netGenerationMwh) < 1e-6 * us!.co2Rate + 1e-9);
  }), { numRuns: 2000 });
});

test('a plant with no key at a level is left out of that level only', () => {
  const plants = [plant({ baCode: null }), plant({ orispl: 2 })];
  assert.equal(aggregatePlants(plants, 'ba')[0]!.plants, 1);
  assert.equal(aggregatePlants(plants, 'us')[0]!.plants, 2);
});

test('eGRID2022 MROW plant rows reproduce EPA\'s published MROW CO2 output rate, and every plant\'s NBFACTOR', sharedDataTest(), () => {
  const rows = readCodeCsv(sharedPath('egrid', 'egrid2022_PLNT22_MROW_and_NE_subset.csv'));
  const plants = rows.map(plantFromCodes);
  const published = Object.fromEntries(readCodeCsv(sharedPath('egrid', 'CO2_total_output_emission_rate_by_eGRID_subregion_2022.csv'))
    .map((r) => [r.Region!.trim(), egridNumber(Object.values(r)[1])]));
  const mrow = aggregatePlants(plants, 'subregion').find((a) => a.key === 'MROW')!;
  assert.ok(mrow.plants > 1000, `${mrow.plants} MROW plants`);
  close(mrow.co2Rate, published.MROW!, 0.005, 'MROW CO2 lb/MWh');
  close(mrow.co2Rate, published.MROW!, 0.0001, 'MROW CO2 lb/MWh (to the file\'s rounding)');
  let checked = 0;
  for (const r of rows) {
    const epa = egridNumber(r.NBFACTOR);
    const ours = nonBaseloadFactor(egridNumber(r.CAPFAC), r.PLPRMFL?.trim() || null, egridNumber(r.PLNGENAN));
    if (epa === null) { assert.equal(ours, null, `ORISPL ${r.ORISPL} ${r.PLPRMFL} CF ${r.CAPFAC}: EPA has no NBFACTOR`); continue; }
    assert.ok(ours !== null && Math.abs(ours - epa) < 1e-3, `ORISPL ${r.ORISPL} CF ${r.CAPFAC}: EPA ${epa}, ours ${ours}`);
    checked++;
  }
  assert.ok(checked > 300, `${checked} NBFACTOR values checked`);
});

/** EPA's 2018/2019 state and subregion aggregate rows, turned into "plants" of the level below the US. */
function explorerAsPlants(file: string, prefix: string, keyCode: string, year: string): PlantFigures[] {
  return readCodeCsv(sharedPath('egrid', file)).filter((r) => r.Year === year).map((r) => plantFromCodes({
    ORISPL: '0', PNAME: r[keyCode]!, PSTATABB: r[keyCode]!, NAMEPCAP: r[`${prefix}NAMEPCAP`]!, PLNGENAN: r[`${prefix}NGENAN`]!, PLHTIAN: r[`${prefix}HTIAN`]!,
    PLCO2AN: r[`${prefix}CO2AN`]!, PLNOXAN: r[`${prefix}NOXAN`]!, PLSO2AN: r[`${prefix}SO2AN`]!,
    ...Object.fromEntries(EGRID_MIX_FUELS.map((f) => [`PLGENA${MIX_CODES[f]}`, r[`${prefix}GENA${MIX_CODES[f]}`]!])),
  }));
}

test('summing EPA\'s state and subregion rows reproduces EPA\'s US row within 0.5 % (2018 and 2019)', sharedDataTest(), () => {
  const us = readCodeCsv(sharedPath('egrid', 'egrid2018_2019_US_explorer.csv'));
  for (const year of ['2018', '2019']) {
    const epa = us.find((r) => r.Year === year)!;
    for (const [file, prefix, key] of [['egrid2018_2019_state_explorer.csv', 'ST', 'PSTATABB'], ['egrid2018_2019_subregion_explorer.csv', 'SR', 'SUBRGN']] as const) {
      const [ours] = aggregatePlants(explorerAsPlants(file, prefix, key, year), 'us');
      close(ours!.netGenerationMwh, egridNumber(epa.USNGENAN), 0.005, `${year} ${prefix} generation`);
      close(ours!.co2Tons, egridNumber(epa.USCO2AN), 0.005, `${year} ${prefix} CO2`);
      close(ours!.co2Rate, egridNumber(epa.USCO2RTA), 0.005, `${year} ${prefix} CO2 rate`);
      close(ours!.noxRate, egridNumber(epa.USNOXRTA), 0.005, `${year} ${prefix} NOx rate`);
      close(ours!.so2InputRate, egridNumber(epa.USSO2RA), 0.005, `${year} ${prefix} SO2 input rate`);
      // the explorer export writes resource-mix shares in percent
      close(ours!.mix.coal.share, egridNumber(epa.USCLPR)! / 100, 0.005, `${year} ${prefix} coal share`);
      close(ours!.mix.wind.share, egridNumber(epa.USWIPR)! / 100, 0.005, `${year} ${prefix} wind share`);
    }
  }
});
