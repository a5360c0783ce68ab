import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { testDatabases } from '../../../test/support/databases.ts';
import { migrate } from '../../platform/migrate.ts';
import type { Db } from '../../platform/db.ts';
import { ensureSeries } from '../../grid/series-repository.ts';
import { upsertObservations } from '../../grid/observation-repository.ts';
import { seedHours } from '../daily/daily-test-support.ts';
import { hourlyIntensity, type IntensityPoint } from './intensity.ts';
import { allNow, baNow, generationFreshness } from './now.ts';
import { duckCurve } from '../daily/duck.ts';
import { dailyPulse } from '../daily/pulse.ts';

/**
 * EIA-930 publishes BA-to-BA interchange later than generation by fuel: an hour can have every fuel mix and no
 * interchange yet. The consumption value of such an hour must not be the production value passed off as
 * consumption-based, and what an hour says must not depend on the range it was asked in.
 */
const at = (h: number) => new Date(Date.UTC(2025, 6, 1, h));
const plain = (points: readonly IntensityPoint[]) => points.map((p) => ({ ts: p.ts.toISOString(), value: p.value, flags: p.flags }));

for (const target of testDatabases()) {
  describe(`inputs that arrive at different times on ${target.name}`, () => {
    let db: Db;
    before(async () => {
      db = await target.open();
      await migrate(db);
      // PACW burns coal (820), BPAT runs hydro (24), 1 000 MWh each in hours 0 and 1; PACW → BPAT 1 000 MWh in
      // hour 0, both sides reporting; hour 1's interchange not published yet.
      await seedHours(db, 'PACW', 'generation_by_fuel', 'COL', at(0), [1_000, 1_000]);
      await seedHours(db, 'BPAT', 'generation_by_fuel', 'WAT', at(0), [1_000, 1_000]);
      await seedHours(db, 'PACW', 'ba_interchange', 'BPAT', at(0), [1_000]);
      await seedHours(db, 'BPAT', 'ba_interchange', 'PACW', at(0), [-1_000]);
      // NYIS: nuclear both hours, its solar series published for hour 0 only so far.
      await seedHours(db, 'NYIS', 'generation_by_fuel', 'NUC', at(0), [400, 400]);
      await seedHours(db, 'NYIS', 'generation_by_fuel', 'SUN', at(0), [100]);
      // CISO: solar published through 29 June 11:00 PDT (at(-30)); demand then and on 30 June 17:00–18:00 PDT (hours 0, 1).
      await seedHours(db, 'CISO', 'generation_by_fuel', 'SUN', at(-30), [100]);
      await seedHours(db, 'CISO', 'demand', '', at(-30), [300]);
      await seedHours(db, 'CISO', 'demand', '', at(0), [450, 500]);
      // and gas 100 MW through the whole local day of 30 June (07:00 UTC to 07:00 UTC)
      await seedHours(db, 'CISO', 'generation_by_fuel', 'NG', at(-17), new Array(24).fill(100));
    });
    after(async () => { await db.close(); });

    it('gives hour 1 a null, flagged consumption value in any range (BPAT/PACW)', async () => {
      for (const from of [at(0), at(1)]) {
        const bpat = (await hourlyIntensity(db, 'BPAT', from, at(2), 'consumption', 'lifecycle'))!;
        const last = bpat.points.at(-1)!;
        assert.deepEqual({ value: last.value, flags: last.flags }, { value: null, flags: ['interchange-missing'] }, `from ${from.toISOString()}`);
        const pacw = (await hourlyIntensity(db, 'PACW', from, at(2), 'consumption', 'lifecycle'))!;
        assert.deepEqual(pacw.points.at(-1)!.flags, ['interchange-missing']);
        assert.equal(pacw.points.at(-1)!.value, null);
      }
      // hour 0: BPAT mixes 1 000 MWh of its hydro with 1 000 MWh of PACW coal: (1 000 · 24 + 1 000 · 820) / 2 000 = 422
      const h0 = (await hourlyIntensity(db, 'BPAT', at(0), at(2), 'consumption', 'lifecycle'))!;
      assert.deepEqual({ value: h0.points[0]!.value, flags: h0.points[0]!.flags }, { value: 422, flags: [] });
      assert.equal(h0.dataThrough!.toISOString(), at(0).toISOString(), 'dataThrough is the newest hour with a consumption value');
      // production-based needs no interchange: 24 in both hours, unflagged
      const production = (await hourlyIntensity(db, 'BPAT', at(1), at(2), 'production', 'lifecycle'))!;
      assert.deepEqual(plain(production.points), [{ ts: at(1).toISOString(), value: 24, flags: [] }]);
    });

    it('keeps waiting for interchange however late it is, until a BA of the pair retires', async () => {
      // TVA and SOCO trade in hour 0; nine days later their fuel mix is published, their interchange still not
      for (const h of [0, 9 * 24]) {
        await seedHours(db, 'TVA', 'generation_by_fuel', 'WAT', at(h), [1_000]);
        await seedHours(db, 'SOCO', 'generation_by_fuel', 'COL', at(h), [1_000]);
      }
      await seedHours(db, 'SOCO', 'ba_interchange', 'TVA', at(0), [1_000]);
      await seedHours(db, 'TVA', 'ba_interchange', 'SOCO', at(0), [-1_000]);
      const late = (await hourlyIntensity(db, 'TVA', at(9 * 24), at(9 * 24 + 1), 'consumption', 'lifecycle'))!;
      assert.deepEqual({ value: late.points[0]!.value, flags: late.points[0]!.flags }, { value: null, flags: ['interchange-missing'] });
      // PSCO traded with WACM, which EIA retired on 2026-03-31: after that its own generation is the whole answer
      await seedHours(db, 'PSCO', 'generation_by_fuel', 'COL', new Date(Date.UTC(2026, 2, 30)), [500]);
      await seedHours(db, 'PSCO', 'ba_interchange', 'WACM', new Date(Date.UTC(2026, 2, 30)), [0]);
      await seedHours(db, 'PSCO', 'generation_by_fuel', 'COL', new Date(Date.UTC(2026, 3, 10)), [500]);
      const after = (await hourlyIntensity(db, 'PSCO', new Date(Date.UTC(2026, 3, 10)), new Date(Date.UTC(2026, 3, 10, 1)), 'consumption', 'lifecycle'))!;
      assert.deepEqual({ value: after.points[0]!.value, flags: after.points[0]!.flags }, { value: 820, flags: [] });
      // the pair ends with WACM's last active hour: 31 March in its reporting zone (Arizona, UTC−7) ends at 07:00 UTC on
      // 1 April, so WACM's interchange is still awaited at 06:00 UTC and no longer at 07:00 UTC (not a whole UTC day later)
      const edge = new Date(Date.UTC(2026, 3, 1, 6));
      await seedHours(db, 'PSCO', 'generation_by_fuel', 'COL', edge, [500, 500]);
      const around = (await hourlyIntensity(db, 'PSCO', edge, new Date(edge.getTime() + 2 * 3_600_000), 'consumption', 'lifecycle'))!;
      assert.deepEqual(around.points.map((p) => ({ value: p.value, flags: p.flags })),
        [{ value: null, flags: ['interchange-missing'] }, { value: 820, flags: [] }]);
    });

    it('flags a fuel series not published yet for the hour, in any range', async () => {
      for (const from of [at(0), at(1)]) {
        const nyis = (await hourlyIntensity(db, 'NYIS', from, at(2), 'production', 'lifecycle'))!;
        assert.deepEqual({ value: nyis.points.at(-1)!.value, flags: nyis.points.at(-1)!.flags }, { value: 12, flags: ['partial-fuel-data'] }, `from ${from.toISOString()}`);
      }
      // hour 0 complete: (400 · 12 + 100 · 45) / 500 = 18.6
      const h0 = (await hourlyIntensity(db, 'NYIS', at(0), at(1), 'production', 'lifecycle'))!;
      assert.deepEqual(plain(h0.points), [{ ts: at(0).toISOString(), value: (400 * 12 + 100 * 45) / 500, flags: [] }]);
    });

    it('gives the duck curve no net load for an hour whose solar is not published yet, in any range', async () => {
      // 30 June's local day holds no solar row at all: solar is missing there (published a day ago), not zero
      for (const from of [at(0), at(1)]) {
        const duck = (await duckCurve(db, 'CISO', from, at(2), at(3)))!;
        assert.deepEqual(duck.hours.at(-1), { ts: at(1).toISOString(), demandMw: 500, solarMw: null, windMw: 0, netLoadMw: null }, `from ${from.toISOString()}`);
      }
      const published = (await duckCurve(db, 'CISO', at(-30), at(-29), at(3)))!;
      assert.equal(published.hours[0]!.netLoadMw, 300 - 100);
    });

    it("gives the Daily Pulse no renewable share for a day whose solar is not published yet, and says why", async () => {
      const pulse = (await dailyPulse(db, 'CISO', { date: '2025-06-30', now: at(48) }))!;
      // no shares for a mix missing a fuel all day: the fuels' shares follow the renewable share's rule
      assert.deepEqual(pulse.mix.map((f) => [f.fuel, f.mwh, f.share]), [['NG', 2_400, null], ['SUN', null, null]]);
      assert.equal(pulse.reasons['mix.share'], pulse.reasons.renewableShare);
      assert.equal(pulse.missingHours.fuels, 24);
      assert.equal(pulse.renewableShare, null);
      assert.equal(pulse.reasons.renewableShare, 'some fuel of the mix missing for 24 of 24 hours (needs all but a quarter of the hours)');
      const share = pulse.baseline.find((m) => m.metric === 'renewableShare')!;
      assert.deepEqual([share.value, share.reasons.value], [null, pulse.reasons.renewableShare]);
    });

    it("What's Powering Me answers hour 1 with consumption null and the newest hour whose interchange has landed", async () => {
      const now = (await baNow(db, 'BPAT', generationFreshness, at(3)))!;
      assert.equal(now.hour, at(1).toISOString());
      assert.deepEqual(now.intensity, { production: 24, consumption: null, unit: 'gCO2eq/kWh', flags: { production: [], consumption: ['interchange-missing'] } });
      assert.deepEqual(now.latestConsumption, { hour: at(0).toISOString(), value: 422, flags: [] });
      const row = (await allNow(db, generationFreshness, at(3))).data.find((r) => r.ba === 'BPAT')!;
      assert.deepEqual({ hour: row.hour, intensity: row.intensity, flags: row.intensityFlags, production: row.productionIntensity },
        { hour: at(1).toISOString(), intensity: null, flags: ['interchange-missing'], production: 24 });
    });
  });

  describe(`an hour's value and flags do not depend on where the range starts, on ${target.name}`, () => {
    let db: Db;
    before(async () => {
      db = await target.open();
      await migrate(db);
    });
    after(async () => { await db.close(); });

    const HOURS = 5;
    const BAS = ['BPAT', 'PACW', 'IPCO'] as const;
    const FUELS = ['COL', 'NG', 'WND'] as const;
    const PAIRS = [['PACW', 'BPAT'], ['BPAT', 'PACW'], ['IPCO', 'BPAT'], ['PACW', 'IPCO']] as const;
    // per hour: no row (not published), an EIA null, or a value
    const cell = (lo: number, hi: number) => fc.oneof(fc.constant<'absent'>('absent'), fc.constant(null), fc.integer({ min: lo, max: hi }));
    const column = (lo: number, hi: number) => fc.array(cell(lo, hi), { minLength: HOURS, maxLength: HOURS });
    const store = fc.record({
      fuels: fc.array(column(0, 900), { minLength: BAS.length * FUELS.length, maxLength: BAS.length * FUELS.length }),
      interchange: fc.array(column(-300, 300), { minLength: PAIRS.length, maxLength: PAIRS.length }),
    });

    async function seed(data: { fuels: ReadonlyArray<ReadonlyArray<number | null | 'absent'>>; interchange: ReadonlyArray<ReadonlyArray<number | null | 'absent'>> }) {
      await db.query('DELETE FROM observations');
      const columns = [
        ...BAS.flatMap((ba, b) => FUELS.map((fuel, f) => ({ ba, type: 'generation_by_fuel', subtype: fuel, values: data.fuels[b * FUELS.length + f]! }))),
        ...PAIRS.map(([ba, neighbour], p) => ({ ba, type: 'ba_interchange', subtype: neighbour, values: data.interchange[p]! })),
      ];
      for (const c of columns) {
        const seriesId = await ensureSeries(db, { baCode: c.ba, type: c.type, subtype: c.subtype, source: 'eia' });
        const rows = c.values.flatMap((value, h) => (value === 'absent' ? [] : [{ seriesId, ts: at(h), value, quality: 'good' as const }]));
        if (rows.length) await upsertObservations(db, rows);
      }
    }

    it('holds for random stores, both bases (fast-check)', async () => {
      await fc.assert(fc.asyncProperty(store, async (data) => {
        await seed(data);
        for (const ba of BAS) {
          for (const basis of ['production', 'consumption'] as const) {
            const whole = plain((await hourlyIntensity(db, ba, at(0), at(HOURS), basis, 'lifecycle'))!.points);
            for (let start = 1; start < HOURS; start++) {
              const part = plain((await hourlyIntensity(db, ba, at(start), at(HOURS), basis, 'lifecycle'))!.points);
              assert.deepEqual(part, whole.slice(start), `${ba} ${basis} from hour ${start}`);
            }
          }
        }
      }), { numRuns: 12 });
    });
  });
}
