import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BalancingAuthority } from '../grid/ba-repository.ts';
import { consumptionPoints, productionPoints, toSystem, type SeriesRow } from '../analytics/intensity/intensity.ts';
import { factorLookup } from '../analytics/intensity/factors.ts';
import { simulateBa, simulateGrid } from './simulated-grid.ts';
import { pointSeries } from './store-points.ts';
import type { EiaPoint } from './eia-schema.ts';
import { readFileSync } from 'node:fs';
import { sharedDataTest, sharedPath } from '../../test/support/shared-data.ts';
import { openDb } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { listBas } from '../grid/ba-repository.ts';
import { parseGridemissionsCsv } from './gridemissions.ts';
import { readDemandCsv } from '../cli/forecast-command.ts';
import { SIMULATED_SCALE } from './simulated-scale.ts';

const ciso = { code: 'CISO', name: 'CAISO', timeZone: 'America/Los_Angeles', geographicTimeZone: 'America/Los_Angeles', region: 'CAL', interconnection: 'western', generationOnly: false, active: true, reportingSince: null, retiredOn: null };
const ba = (code: string, region: string, generationOnly = false): BalancingAuthority => ({ ...ciso, code, name: code, region, generationOnly });
/** Six interconnected western BAs (AVRN, generation-only, trades with BPAT and PACW), nine pairs. */
const west = [ciso, ba('BANC', 'CAL'), ba('TIDC', 'CAL'), ba('BPAT', 'NW'), ba('AVRN', 'NW', true), ba('PACW', 'NW')];

const value = (points: EiaPoint[], route: EiaPoint['route'], code: string, ts: number) => points.find((p) => p.route === route && p.code === code && p.ts.getTime() === ts)?.value;

describe('simulated grid', () => {
  it('is deterministic, balances fuels to net generation, and puts solar in local daylight only', () => {
    const from = new Date('2025-06-01T00:00Z');
    const a = simulateBa(ciso, from, 48);
    assert.deepEqual(a, simulateBa(ciso, from, 48));
    for (let h = 0; h < 48; h++) {
      const ts = from.getTime() + h * 3_600_000;
      const at = a.filter((p) => p.ts.getTime() === ts);
      const ng = at.find((p) => p.route === 'region' && p.code === 'NG')!.value!;
      const fuels = at.filter((p) => p.route === 'fuel').reduce((s, p) => s + p.value!, 0);
      assert.equal(fuels, ng);
      const lh = Number(new Intl.DateTimeFormat('en-US', { timeZone: 'America/Los_Angeles', hour: 'numeric', hourCycle: 'h23' }).format(new Date(ts)));
      const sun = at.find((p) => p.code === 'SUN')!.value!;
      if (lh < 6 || lh > 19) assert.equal(sun, 0, `solar at local ${lh}:00`);
      if (lh === 12) assert.ok(sun > 0);
    }
  });

  it('gives generation-only BAs no demand or forecast', () => {
    const pts = simulateBa({ ...ciso, code: 'AVRN', generationOnly: true }, new Date('2025-06-01T00:00Z'), 24);
    assert.equal(pts.filter((p) => p.code === 'D' || p.code === 'DF').length, 0);
  });

  it('simulates no interchange for a BA alone', () => {
    assert.equal(simulateBa(ciso, new Date('2025-06-01T00:00Z'), 24).filter((p) => p.route === 'interchange').length, 0);
  });

  it('trades between interconnected BAs simulated together: antisymmetric pairs, TI = Σ pairs = NG − D, fuels = NG', () => {
    const from = new Date('2025-06-01T00:00Z');
    const hours = 36;
    const grid = simulateGrid(west, from, hours);
    assert.deepEqual(grid, simulateGrid(west, from, hours), 'same seed, same values');
    assert.deepEqual(simulateGrid([...west].reverse(), from, hours), grid, 'the order of the BAs changes nothing');
    const neighbours = (code: string) => [...new Set(grid.get(code)!.filter((p) => p.route === 'interchange').map((p) => p.code))].sort();
    assert.deepEqual(neighbours('BANC'), ['BPAT', 'CISO', 'TIDC']);
    assert.deepEqual(neighbours('AVRN'), ['BPAT', 'PACW']);
    assert.deepEqual([...new Set(simulateGrid(west.filter((b) => b.code !== 'PACW'), from, 2).get('AVRN')!.filter((p) => p.route === 'interchange').map((p) => p.code))], ['BPAT'], 'only BAs simulated together trade');
    let imports = 0;
    let exports = 0;
    for (let h = 0; h < hours; h++) {
      const ts = from.getTime() + h * 3_600_000;
      for (const { code, generationOnly } of west) {
        const points = grid.get(code)!;
        const at = points.filter((p) => p.ts.getTime() === ts);
        const ng = value(points, 'region', 'NG', ts)!;
        const d = generationOnly ? 0 : value(points, 'region', 'D', ts)!;
        const ti = value(points, 'region', 'TI', ts)!;
        const pairs = at.filter((p) => p.route === 'interchange');
        assert.equal(pairs.reduce((s, p) => s + p.value!, 0), ti, `${code} TI = Σ pairs at hour ${h}`);
        assert.equal(ng - d, ti, `${code} NG − D = TI at hour ${h}`);
        assert.equal(at.filter((p) => p.route === 'fuel').reduce((s, p) => s + p.value!, 0), ng, `${code} fuels = NG at hour ${h}`);
        assert.ok(at.every((p) => p.route === 'interchange' || p.code === 'TI' || p.value! >= 0), `${code} no negative generation or demand at hour ${h}`);
        for (const p of pairs) {
          assert.equal(value(grid.get(p.code)!, 'interchange', code, ts), p.value === 0 ? 0 : -p.value!, `${code}→${p.code} = −(${p.code}→${code}) at hour ${h}`);
          if (p.value! < 0) imports++;
          if (p.value! > 0) exports++;
        }
        if (generationOnly) assert.ok(ti >= 0 && pairs.every((p) => p.value! >= 0), 'a generation-only BA only exports');
      }
    }
    assert.ok(imports > 0 && exports > 0);
  });

  it('gives any window of hours exactly the values of a longer run (so a refilled gap matches its neighbours)', () => {
    const from = new Date('2025-07-01T00:00Z');
    const long = simulateGrid(west, from, 72);
    const window = simulateGrid(west, new Date(from.getTime() + 30 * 3_600_000), 7);
    for (const b of west) {
      const inWindow = long.get(b.code)!.filter((p) => p.ts.getTime() >= from.getTime() + 30 * 3_600_000 && p.ts.getTime() < from.getTime() + 37 * 3_600_000);
      assert.ok(inWindow.length > 7 * 5, b.code);
      assert.deepEqual(window.get(b.code), inWindow, b.code);
    }
  });

  it('makes consumption-based intensity differ from production-based for an importing BA', () => {
    const from = new Date('2025-06-01T00:00Z');
    const hours = 24;
    const grid = simulateGrid(west, from, hours);
    const ts = Array.from({ length: hours }, (_, h) => new Date(from.getTime() + h * 3_600_000));
    const series = new Map<string, SeriesRow>();
    for (const p of [...grid.values()].flat()) {
      if (p.route === 'region') continue;
      const { type, subtype } = pointSeries(p);
      const key = `${p.ba}|${type}|${subtype}`;
      let row = series.get(key);
      if (!row) series.set(key, (row = { ba: p.ba, type: type!, subtype, source: 'simulated', ms: [], vals: [] }));
      row.ms.push(p.ts.getTime());
      row.vals.push(p.value!);
    }
    const system = toSystem(ts, [...series.values()]);
    const consumption = consumptionPoints(system, 'lifecycle');
    let compared = 0;
    for (const { code } of west) {
      const production = productionPoints(ts, system.fuels.get(code)!, factorLookup('lifecycle', code));
      for (let h = 0; h < hours; h++) {
        const c = consumption.get(code)![h]!;
        assert.deepEqual(c.flags, [], `${code} hour ${h} traced without flags`);
        const imported = value(grid.get(code)!, 'region', 'TI', ts[h]!.getTime())! < 0;
        if (!imported || production[h]!.value === null) continue;
        compared++;
        assert.notEqual(Math.round(c.value! * 1000), Math.round(production[h]!.value! * 1000), `${code} imports at hour ${h}: consumption differs from production`);
      }
    }
    assert.ok(compared > 0, 'some BA imports');
  });

  describe('at the scale of the real grid', () => {
    let registry: BalancingAuthority[] = [];
    const july = new Date('2025-07-01T00:00Z');
    const julyHours = 31 * 24;
    let grid = new Map<string, EiaPoint[]>();
    const series = (code: string, route: EiaPoint['route'], kind: string) => grid.get(code)!.filter((p) => p.route === route && p.code === kind).map((p) => p.value!);
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

    // July 2025 for every active BA of the registry, simulated together
    before(async () => {
      const db = await openDb({ dataDir: ':memory:' });
      try {
        await migrate(db);
        registry = await listBas(db);
      } finally { await db.close(); }
      grid = simulateGrid(registry, july, julyHours);
    });

    it("puts ERCO's and PJM's July peaks within 15 % of the real July peaks, and ERCO above CISO", sharedDataTest(), () => {
      // real July peaks: EIA-930 of 10–20 July 2021 for every BA, and PJM's and CISO's own July peaks of 2015–2019
      const real = new Map<string, number[]>();
      const wide = parseGridemissionsCsv(readFileSync(sharedPath('eia930', 'gridemissions', 'E_raw_2021-07-10_2021-07-20.csv'), 'utf8'));
      for (const code of ['ERCO', 'PJM', 'CISO']) real.set(code, [Math.max(...wide.points.filter((p) => p.ba === code && p.route === 'region' && p.code === 'D' && p.value !== null).map((p) => p.value!))]);
      for (const code of ['PJM', 'CISO']) {
        const { ts, y } = readDemandCsv(readFileSync(sharedPath('eia930', 'demand_2015_2019', `${code}.csv`), 'utf8'));
        for (let year = 2015; year <= 2019; year++) {
          const inJuly = y.filter((v, i) => v !== null && ts[i]!.getUTCFullYear() === year && ts[i]!.getUTCMonth() === 6) as number[];
          // EIA-930's early months have single-hour spikes: the 99.9th percentile hour, not the maximum
          real.get(code)!.push([...inJuly].sort((a, b) => a - b)[Math.floor(0.999 * (inJuly.length - 1))]!);
        }
      }
      const peak = (code: string) => Math.max(...series(code, 'region', 'D'));
      for (const code of ['ERCO', 'PJM', 'CISO']) {
        const peaks = real.get(code)!;
        assert.ok(peak(code) >= 0.85 * Math.min(...peaks) && peak(code) <= 1.15 * Math.max(...peaks), `${code}: simulated July peak ${peak(code)} MW vs real ${peaks.join(', ')} MW`);
      }
      assert.ok(Math.max(...real.get('ERCO')!) > real.get('CISO')![0]!, 'the real data have ERCO above CISO');
      assert.ok(peak('ERCO') > peak('CISO'), `ERCO ${peak('ERCO')} MW > CISO ${peak('CISO')} MW`);
    });

    it("keeps every BA's July demand within 15 % of its real mean, and generation-only BAs' output within 40 %", () => {
      let generationOnly = 0;
      for (const ba of registry) {
        const row = SIMULATED_SCALE[ba.code];
        if (!row) {
          assert.equal(grid.get(ba.code)!.length, 0, `${ba.code} has no real scale and is not simulated`);
          continue;
        }
        const ng = mean(series(ba.code, 'region', 'NG'));
        if (ba.generationOnly) {
          generationOnly++;
          assert.ok(ng >= 0.6 * row.generationMean && ng <= 1.4 * row.generationMean, `${ba.code}: simulated NG ${ng.toFixed(0)} MW vs real ${row.generationMean} MW`);
          continue;
        }
        const d = mean(series(ba.code, 'region', 'D'));
        const real = row.demandMean ?? row.generationMean;
        assert.ok(d >= 0.85 * real && d <= 1.15 * real, `${ba.code}: simulated D ${d.toFixed(0)} MW vs real ${real} MW`);
        assert.ok(ng >= 0, `${ba.code} NG`);
      }
      assert.ok(generationOnly >= 8, 'the registry has generation-only BAs');
    });

    it('gives each BA only the fuels it really has', () => {
      for (const ba of registry) {
        const row = SIMULATED_SCALE[ba.code];
        if (!row) continue;
        const fuels = new Set(grid.get(ba.code)!.filter((p) => p.route === 'fuel').map((p) => p.code));
        for (const f of fuels) assert.ok(f in row.fuels || (f === 'SUN' && row.solarPeak > 0) || (f === 'NG' && Object.keys(row.fuels).length === 0), `${ba.code} simulates ${f}, which it does not have`);
        for (const f of Object.keys(row.fuels)) assert.ok(fuels.has(f), `${ba.code} lacks ${f}`);
      }
    });
  });
});
