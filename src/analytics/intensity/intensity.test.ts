import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import fc from 'fast-check';
import { testDatabases } from '../../../test/support/databases.ts';
import { sharedDataTest, sharedPath } from '../../../test/support/shared-data.ts';
import { migrate } from '../../platform/migrate.ts';
import type { Db } from '../../platform/db.ts';
import { PointStore } from '../../ingest/store-points.ts';
import { toPoint, type EiaPoint } from '../../ingest/eia-schema.ts';
import { defaultFactor, factorLookup, fuelInfo, FUELS, upsertFactorOverrides } from './factors.ts';
import { consumptionPoints, hourlyIntensity, loadSystemAt, loadSystemHours, productionHour, productionPoints, type SystemHours } from './intensity.ts';
import { seedHours } from '../daily/daily-test-support.ts';

const lifecycle = factorLookup('lifecycle', 'ANY');
const close = (actual: number | null | undefined, expected: number, eps = 1e-9) =>
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) <= eps * Math.max(1, Math.abs(expected)), `${actual} ≠ ${expected}`);

describe('emission factors', () => {
  it('maps EIA codes to the METHODS.md sets and unknown codes to unknown/other', () => {
    assert.equal(defaultFactor('COL', 'lifecycle'), 820);
    assert.equal(defaultFactor('NG', 'direct'), 370);
    assert.equal(defaultFactor('SNB', 'lifecycle'), 45);
    assert.equal(defaultFactor('WNB', 'direct'), 0);
    assert.equal(defaultFactor('GEO', 'lifecycle'), 38);
    assert.equal(defaultFactor('BAT', 'lifecycle'), undefined);
    assert.equal(fuelInfo('XYZ').category, 'unknown');
    assert.equal(lifecycle('XYZ'), 700);
    assert.equal(factorLookup('direct', 'ANY')('XYZ'), 575);
    for (const f of FUELS) if (f.carbonFree && f.category !== 'storage') assert.equal(defaultFactor(f.code, 'direct'), 0, f.code);
  });

  it('applies a BA override only to that BA and set', () => {
    const overrides = [{ ba: 'PACW', fuel: 'NG', set: 'lifecycle' as const, value: 430, source: 'test' }];
    assert.equal(factorLookup('lifecycle', 'PACW', overrides)('NG'), 430);
    assert.equal(factorLookup('direct', 'PACW', overrides)('NG'), 370);
    assert.equal(factorLookup('lifecycle', 'CISO', overrides)('NG'), 490);
  });
});

describe('production-based intensity', () => {
  it('weights factors by positive generation (hand-computed)', () => {
    // 300 MW gas (490) + 100 MW solar (45): (147 000 + 4 500) / 400 = 378.75
    const h = productionHour({ NG: 300, SUN: 100 }, lifecycle);
    assert.equal(h.value, 378.75);
    assert.equal(h.emissions, 151_500);
    assert.equal(h.generation, 400);
    assert.deepEqual(h.flags, []);
  });

  it('leaves negative generation (station load, pumping) out', () => {
    // WND −20 and WAT −50 are consumption: 100 MW coal alone → 820
    assert.equal(productionHour({ COL: 100, WND: -20, WAT: -50 }, lifecycle).value, 820);
  });

  it('gives storage discharge the hour\'s non-storage intensity and ignores charging', () => {
    // 100 MW gas + 100 MW wind → (49 000 + 1 100) / 200 = 250.5; BAT +50 adds 50 MWh at 250.5
    const discharging = productionHour({ NG: 100, WND: 100, BAT: 50 }, lifecycle);
    assert.equal(discharging.value, 250.5);
    assert.equal(discharging.generation, 250);
    close(discharging.emissions, 50_100 + 50 * 250.5);
    const charging = productionHour({ NG: 100, WND: 100, BAT: -50, PS: -10 }, lifecycle);
    assert.deepEqual({ value: charging.value, generation: charging.generation }, { value: 250.5, generation: 200 });
  });

  it('is null and flagged with no fuel data, or no positive generation', () => {
    assert.deepEqual(productionHour({}, lifecycle).flags, ['no-fuel-data']);
    assert.deepEqual(productionHour({ NG: null, SUN: null }, lifecycle), { emissions: 0, generation: 0, value: null, flags: ['no-fuel-data'] });
    assert.deepEqual(productionHour({ SUN: 0, BAT: 40 }, lifecycle).flags, ['no-generation']);
    const partial = productionHour({ NG: 100, SUN: null }, lifecycle);
    assert.equal(partial.value, 490);
    assert.deepEqual(partial.flags, ['partial-fuel-data']);
  });

  it('lies between the lowest and highest factor with positive generation (property)', () => {
    const codes = FUELS.map((f) => f.code);
    fc.assert(fc.property(fc.dictionary(fc.constantFrom(...codes), fc.double({ min: -500, max: 5_000, noNaN: true }), { minKeys: 1 }), (fuels) => {
      const h = productionHour(fuels, lifecycle);
      const present = Object.entries(fuels).filter(([c, v]) => v > 0 && defaultFactor(c, 'lifecycle') !== undefined).map(([c]) => lifecycle(c));
      if (present.length === 0) { assert.equal(h.value, null); return; }
      assert.ok(h.value! >= Math.min(...present) - 1e-9 && h.value! <= Math.max(...present) + 1e-9);
    }), { numRuns: 500 });
  });

  it('computes real PACW hours from EIA\'s fuel-type response', sharedDataTest(), () => {
    const body = JSON.parse(readFileSync(sharedPath('eia930/v2_json/pacw_2024/fuel-type-data_PACW_2024-01-01_to_2024-01-30.json'), 'utf8'));
    const points = (body.response.data as unknown[]).map((r) => toPoint('fuel', r));
    const ts = [...new Set(points.map((p) => p.ts.getTime()))].sort((a, b) => a - b).map((t) => new Date(t));
    const index = new Map(ts.map((t, i) => [t.getTime(), i]));
    const fuels: Record<string, (number | null)[]> = {};
    for (const p of points) (fuels[p.code] ??= new Array(ts.length).fill(null))[index.get(p.ts.getTime())!] = p.value;
    const series = productionPoints(ts, fuels, lifecycle);
    // Period 2024-01-01T12 (hour-ending) = hour starting 11:00Z: NG 0, OTH 51, SUN 0, WAT 221, WND −1.
    // (51 × 700 + 221 × 24) / (51 + 221) = 41 004 / 272 = 150.75
    const hour = series.find((p) => p.ts.toISOString() === '2024-01-01T11:00:00.000Z')!;
    assert.equal(hour.value, 41_004 / 272);
    assert.ok(series.length > 600);
    for (const p of series) if (p.value !== null) assert.ok(p.value >= 11 && p.value <= 700, `${p.ts.toISOString()} ${p.value}`);
  });
});

const T0 = new Date('2025-03-09T06:00:00Z');
const at = (h: number) => new Date(T0.getTime() + h * 3_600_000);
const fuel = (ba: string, code: string, h: number, value: number | null): EiaPoint => ({ route: 'fuel', ba, code, ts: at(h), value });
const flow = (from: string, to: string, h: number, value: number | null): EiaPoint => ({ route: 'interchange', ba: from, code: to, ts: at(h), value });

for (const target of testDatabases()) {
  describe(`hourlyIntensity on ${target.name}`, () => {
    let db: Db;
    before(async () => {
      db = await target.open();
      await migrate(db);
      const store = new PointStore(db, pino({ level: 'silent' }), 'simulated');
      // hour 0: PACW coal 100, BPAT wind 100, PACW exports 50 to BPAT (both report)
      // hour 1: same fuels, BPAT reports nothing; PACW says 50 → same result
      // hour 2: BPAT fuels missing (no row) → BPAT null; PACW production-only
      // hour 3: not stored at all
      await store.store([
        fuel('PACW', 'COL', 0, 100), fuel('BPAT', 'WND', 0, 100), flow('PACW', 'BPAT', 0, 50), flow('BPAT', 'PACW', 0, -50),
        fuel('PACW', 'COL', 1, 100), fuel('BPAT', 'WND', 1, 100), flow('PACW', 'BPAT', 1, 50),
        fuel('PACW', 'COL', 2, 100), flow('PACW', 'BPAT', 2, 50),
      ]);
    });
    after(async () => { await db.close(); });

    it('serves production-based points with a null, flagged missing hour', async () => {
      const s = (await hourlyIntensity(db, 'BPAT', at(0), at(4), 'production', 'lifecycle'))!;
      assert.deepEqual(s.points.map((p) => p.value), [11, 11, null, null]);
      assert.deepEqual(s.points[3]!.flags, ['no-fuel-data']);
      assert.equal(s.dataThrough?.toISOString(), at(1).toISOString());
      assert.equal(s.source, 'simulated');
      assert.equal(s.unit, 'gCO2eq/kWh');
    });

    it('traces consumption through the stored interchange', async () => {
      const s = (await hourlyIntensity(db, 'BPAT', at(0), at(4), 'consumption', 'lifecycle'))!;
      close(s.points[0]!.value, 42_100 / 150);
      close(s.points[1]!.value, 42_100 / 150);
      assert.equal(s.points[2]!.value, null);
      assert.ok(s.points[2]!.flags.includes('no-fuel-data'));
      const pacw = (await hourlyIntensity(db, 'PACW', at(0), at(4), 'consumption', 'direct'))!;
      assert.deepEqual(pacw.points.map((p) => p.value), [760, 760, 760, null]);
    });

    it('uses stored per-BA overrides', async () => {
      await upsertFactorOverrides(db, [{ ba: 'PACW', fuel: 'COL', set: 'lifecycle', value: 1000, source: 'test' }]);
      const s = (await hourlyIntensity(db, 'PACW', at(0), at(1), 'production', 'lifecycle'))!;
      assert.equal(s.points[0]!.value, 1000);
      await db.query('DELETE FROM emission_factor_overrides');
    });

    it('stores EIA\'s real PACW fuel-type response and serves its hours', sharedDataTest(), async () => {
      const body = JSON.parse(readFileSync(sharedPath('eia930/v2_json/pacw_2023_cassettes/fuel-type-data_PACW_2023-01-01_to_2023-01-08.json'), 'utf8'));
      const points = (body.response.data as unknown[]).map((r) => toPoint('fuel', r));
      await new PointStore(db, pino({ level: 'silent' }), 'eia').store(points);
      const s = (await hourlyIntensity(db, 'PACW', new Date('2023-01-01T00:00:00Z'), new Date('2023-01-08T00:00:00Z'), 'production', 'lifecycle'))!;
      assert.equal(s.source, 'eia');
      assert.equal(s.points.length, 168);
      // Every hour with data equals the pure computation over the same response.
      const byHour = new Map<number, Record<string, number | null>>();
      for (const p of points) (byHour.get(p.ts.getTime()) ?? byHour.set(p.ts.getTime(), {}).get(p.ts.getTime())!)[p.code] = p.value;
      for (const p of s.points) {
        const fuels = byHour.get(p.ts.getTime());
        assert.equal(p.value, fuels ? productionHour(fuels, lifecycle).value : null, p.ts.toISOString());
      }
      // periods 2023-01-01T00..2023-01-08T00 are hour-ending: the last hour starts 2023-01-07T23:00Z
      assert.equal(s.dataThrough?.toISOString(), '2023-01-07T23:00:00.000Z');
      assert.ok(s.points.filter((p) => p.value !== null).length >= 160);
    });

    it('is undefined for an unknown BA', async () => {
      assert.equal(await hourlyIntensity(db, 'NOPE', at(0), at(1), 'production', 'lifecycle'), undefined);
    });
  });
}

/** Every BA's consumption points of a system, as plain data (for deepEqual). */
const traced = (system: SystemHours) => Object.fromEntries([...consumptionPoints(system, 'lifecycle')].map(([ba, points]) => [ba, points.map((p) => ({ ts: p.ts.toISOString(), value: p.value, flags: p.flags }))]));

for (const target of testDatabases()) {
  describe(`reading only the BAs connected to one on ${target.name}`, () => {
    let db: Db;
    const hours = [at(0), at(1), at(2), at(5)];
    before(async () => {
      db = await target.open();
      await migrate(db);
      // Island 1: PACW (coal) exports to BPAT (wind), both report; BPAT imports 20 from BCHA (no EIA data) in hour 0;
      //   IPCO (gas) is linked to PACW only by a series PACW reports, all nulls in these hours.
      await seedHours(db, 'PACW', 'generation_by_fuel', 'COL', at(0), [100, 100, 100, null, null, 90]);
      await seedHours(db, 'BPAT', 'generation_by_fuel', 'WND', at(0), [100, 100, null, null, null, 60]);
      await seedHours(db, 'PACW', 'ba_interchange', 'BPAT', at(0), [50, 50, 50, null, null, 30]);
      await seedHours(db, 'BPAT', 'ba_interchange', 'PACW', at(0), [-50, -30, null, null, null, -30]);
      await seedHours(db, 'BPAT', 'ba_interchange', 'BCHA', at(0), [-20, 0, 0]);
      await seedHours(db, 'IPCO', 'generation_by_fuel', 'NG', at(0), [200, 200, 200, null, null, 200]);
      await seedHours(db, 'PACW', 'ba_interchange', 'IPCO', at(0), [null, null, null]);
      // Island 2: ERCO (gas) exports to SWPP (wind), only ERCO reports; simulated, so a 'mixed' source would show.
      await seedHours(db, 'ERCO', 'generation_by_fuel', 'NG', at(0), [500, 500, 500, null, null, 500], 'simulated');
      await seedHours(db, 'SWPP', 'generation_by_fuel', 'WND', at(0), [300, 0, 300, null, null, 300], 'simulated');
      await seedHours(db, 'ERCO', 'ba_interchange', 'SWPP', at(0), [100, 100, -100, null, null, 0], 'simulated');
      // Alone: NYIS (nuclear and gas), no interchange series at all.
      await seedHours(db, 'NYIS', 'generation_by_fuel', 'NUC', at(0), [400, 400, 400, null, null, 400]);
      await seedHours(db, 'NYIS', 'generation_by_fuel', 'NG', at(0), [100, null, 100, null, null, 100]);
    });
    after(async () => { await db.close(); });

    it('reads the BAs linked by interchange series (even all-null ones), not the other islands', async () => {
      const bpat = await loadSystemAt(db, hours, { reaching: 'BPAT' });
      assert.deepEqual([...bpat.fuels.keys()].sort(), ['BPAT', 'IPCO', 'PACW']);
      assert.deepEqual([...bpat.interchange.keys()].sort(), ['BPAT', 'PACW']);
      assert.deepEqual(bpat.interchange.get('PACW')!['IPCO'], [null, null, null, null]);
      assert.deepEqual(bpat.fuels.get('BPAT')!['WND'], [100, 100, null, 60]);
      assert.deepEqual([...new Set([...bpat.sources.values()].flatMap((x) => [...x]))], ['eia']);
      assert.deepEqual([...(await loadSystemAt(db, hours, { reaching: 'IPCO' })).fuels.keys()].sort(), ['BPAT', 'IPCO', 'PACW']);
      assert.deepEqual([...(await loadSystemAt(db, hours, { reaching: 'SWPP' })).fuels.keys()].sort(), ['ERCO', 'SWPP']);
      const nyis = await loadSystemAt(db, hours, { reaching: 'NYIS' });
      assert.deepEqual([...nyis.fuels.keys()], ['NYIS']);
      assert.deepEqual(nyis.fuels.get('NYIS'), { NUC: [400, 400, 400, 400], NG: [100, null, 100, 100] });
      assert.equal(nyis.interchange.size, 0);
    });

    it('traces each BA exactly as the whole system does (hand-checked for BPAT)', async () => {
      const whole = traced(await loadSystemAt(db, hours));
      assert.deepEqual(Object.keys(whole).sort(), ['BPAT', 'ERCO', 'IPCO', 'NYIS', 'PACW', 'SWPP']);
      for (const ba of Object.keys(whole)) {
        const part = traced(await loadSystemAt(db, hours, { reaching: ba }));
        assert.deepEqual(part[ba], whole[ba], ba);
      }
      // hour 0: flow (50 + 50) / 2 = 50 into BPAT, the BCHA import left out → (1 100 + 50 · 820) / 150, flagged;
      // hour 1: (50 + 30) / 2 = 40, pair-mismatch → (1 100 + 40 · 820) / 140; hour 2: BPAT has no fuel data.
      const bpat = whole['BPAT']!;
      close(bpat[0]!.value, 42_100 / 150);
      assert.deepEqual(bpat[0]!.flags, ['neighbour-missing']);
      close(bpat[1]!.value, 33_900 / 140);
      assert.deepEqual(bpat[1]!.flags, ['pair-mismatch']);
      assert.equal(bpat[2]!.value, null);
      close(bpat[3]!.value, (60 * 11 + 30 * 820) / 90);
    });

    it('reads a range the same way (loadSystemHours)', async () => {
      const range = await loadSystemHours(db, at(0), at(6), { reaching: 'BPAT' });
      assert.equal(range.ts.length, 6);
      assert.deepEqual([...range.fuels.keys()].sort(), ['BPAT', 'IPCO', 'PACW']);
      assert.deepEqual(range.fuels.get('PACW')!['COL'], [100, 100, 100, null, null, 90]);
      const whole = traced(await loadSystemHours(db, at(0), at(6)));
      assert.deepEqual(traced(range)['BPAT'], whole['BPAT']);
    });

    it('hourlyIntensity on the consumption basis names only the sources it traced', async () => {
      const s = (await hourlyIntensity(db, 'SWPP', at(0), at(3), 'consumption', 'lifecycle'))!;
      assert.equal(s.source, 'simulated');
      // hour 0: 100 MW of ERCO gas (490) into 300 MW of SWPP wind (11); hour 1: SWPP has no generation, imports only gas
      close(s.points[0]!.value, (300 * 11 + 100 * 490) / 400);
      close(s.points[1]!.value, 490);
      assert.equal((await hourlyIntensity(db, 'BPAT', at(0), at(3), 'consumption', 'lifecycle'))!.source, 'eia');
    });
  });
}
