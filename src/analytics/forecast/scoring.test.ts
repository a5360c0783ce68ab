import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ACCURACY_LEADS, lastDayLag, leadBucket, LeadScorer, naiveAt } from './scoring.ts';

describe('scoring by lead time (one function for the backtest and the accuracy report)', () => {
  it('buckets leads 1-6, 7-24, 25-48 h and nothing else', () => {
    assert.deepEqual([0, 1, 6, 7, 24, 25, 48, 49].map(leadBucket), [-1, 0, 0, 1, 1, 2, 2, -1]);
    assert.deepEqual(ACCURACY_LEADS.map((l) => l.lead), ['1-6 h', '7-24 h', '25-48 h']);
  });

  it('naive references: the same hour of the last observed day and a week earlier (hand-computed)', () => {
    const y = Array.from({ length: 400 }, (_, i) => 1000 + i);
    // data through index 199; lead 1 → index 200: the last observed day's same hour is 176, a week earlier 32
    assert.deepEqual(naiveAt(y, 200, 1), { naiveDay: 1176, naiveWeek: 1032 });
    // lead 24 → index 223, still the first day ahead: 199; lead 25 → index 224: two days back, 176
    assert.deepEqual(naiveAt(y, 223, 24), { naiveDay: 1199, naiveWeek: 1055 });
    assert.deepEqual(naiveAt(y, 224, 25), { naiveDay: 1176, naiveWeek: 1056 });
    assert.equal(lastDayLag(0), 24);
    assert.equal(lastDayLag(24), 48);
    const gaps = [...y];
    gaps[176] = null as unknown as number;
    gaps[32] = 0;
    assert.deepEqual(naiveAt(gaps, 200, 1), { naiveDay: null, naiveWeek: null });
  });

  it('MAPE per bucket and overall, hand-computed; a sample missing any method is not scored for any', () => {
    const s = new LeadScorer(['a', 'b'] as const);
    assert.equal(s.add(1, 100, { a: 110, b: 100 }), true); // a 10 %, b 0 %
    assert.equal(s.add(6, 200, { a: 150, b: 220 }), true); // a 25 %, b 10 %
    assert.equal(s.add(30, 50, { a: 50, b: 40 }), true); // a 0 %, b 20 %
    assert.equal(s.add(10, 100, { a: 90, b: null }), false);
    assert.equal(s.add(10, 0, { a: 1, b: 1 }), false, 'an actual of 0 cannot be scored in %');
    assert.equal(s.add(49, 100, { a: 1, b: 1 }), false);
    const r = s.result();
    assert.deepEqual(r.byLead.map((c) => c.hours), [2, 0, 1]);
    assert.ok(Math.abs(r.byLead[0]!.mapePct.a! - 17.5) < 1e-9);
    assert.ok(Math.abs(r.byLead[0]!.mapePct.b! - 5) < 1e-9);
    assert.deepEqual(r.byLead[1]!.mapePct, { a: null, b: null });
    assert.ok(Math.abs(r.byLead[2]!.mapePct.b! - 20) < 1e-9);
    assert.equal(r.all.hours, 3);
    assert.ok(Math.abs(r.all.mapePct.a! - 35 / 3) < 1e-9);
    assert.ok(Math.abs(r.all.mapePct.b! - 10) < 1e-9);
  });

  it('is unit-free: scaling actuals and forecasts together changes no MAPE', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ lead: fc.integer({ min: 1, max: 48 }), y: fc.double({ min: 1, max: 1e4, noNaN: true }), f: fc.double({ min: 1, max: 1e4, noNaN: true }) }), { minLength: 1, maxLength: 50 }),
      fc.double({ min: 1e-3, max: 1e3, noNaN: true }),
      (samples, k) => {
        const a = new LeadScorer(['f'] as const);
        const b = new LeadScorer(['f'] as const);
        for (const s of samples) { a.add(s.lead, s.y, { f: s.f }); b.add(s.lead, s.y * k, { f: s.f * k }); }
        const [ra, rb] = [a.result(), b.result()];
        return ra.byLead.every((c, i) => c.hours === rb.byLead[i]!.hours
          && (c.mapePct.f === null ? rb.byLead[i]!.mapePct.f === null : Math.abs(c.mapePct.f - rb.byLead[i]!.mapePct.f!) <= 1e-9 * Math.max(1, c.mapePct.f)));
      }));
  });
});
