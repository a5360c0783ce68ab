import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rolloutBudget, type RolloutRate } from './rollout-rate.ts';

const MIN = 60_000;

describe('rollout rate', () => {
  it('spreads a flat rate over the minute, with one second\'s worth at once', () => {
    const flat: RolloutRate = { kind: 'max-per-minute', maxPerMinute: 60 };
    assert.equal(rolloutBudget(flat, 0, 1_000), 1);
    assert.equal(rolloutBudget(flat, 29_000, 1_000), 30);
    assert.equal(rolloutBudget(flat, 59_000, 1_000), 60);
    assert.equal(rolloutBudget(flat, 10 * MIN, 100), 100, 'never more than the devices there are');
  });

  it('ramps exponentially: base in the first minute, × factor each minute, capped', () => {
    const exp: RolloutRate = { kind: 'exponential', maxPerMinute: 100, basePerMinute: 10, incrementFactor: 2 };
    // minutes: 10, 20, 40, 80, 100, 100 …
    assert.equal(rolloutBudget(exp, MIN - 1_000, 10_000), 10);
    assert.equal(rolloutBudget(exp, 2 * MIN - 1_000, 10_000), 30);
    assert.equal(rolloutBudget(exp, 4 * MIN - 1_000, 10_000), 150);
    assert.equal(rolloutBudget(exp, 6 * MIN - 1_000, 10_000), 350);
  });

  it('never decreases with time, never exceeds the total, never exceeds the cap rate (fast-check)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 500 }), fc.double({ min: 1.01, max: 5, noNaN: true }),
      fc.integer({ min: 1, max: 50_000 }), fc.integer({ min: 0, max: 3_600_000 }), fc.integer({ min: 0, max: 600_000 }),
      (max, base, factor, total, t, dt) => {
        for (const rate of [{ kind: 'max-per-minute', maxPerMinute: max }, { kind: 'exponential', maxPerMinute: max, basePerMinute: base, incrementFactor: factor }] as RolloutRate[]) {
          const a = rolloutBudget(rate, t, total);
          const b = rolloutBudget(rate, t + dt, total);
          assert.ok(a >= 1 && a <= total && b >= a, `${a} then ${b}`);
          assert.ok(b - a <= Math.ceil((max * dt) / MIN) + 1, `${b - a} in ${dt} ms at ${max}/min`);
        }
      }), { numRuns: 300 });
  });
});
