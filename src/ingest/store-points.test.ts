import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { QUALITY, type ObservationInput } from '../grid/observation-repository.ts';
import { settleDuplicates } from './store-points.ts';

const at = (h: number) => new Date(Date.UTC(2025, 6, 1, h));
const row = (seriesId: number, h: number, value: number | null, quality: ObservationInput['quality'] = 'good'): ObservationInput => ({ seriesId, ts: at(h), value, quality });

describe('settleDuplicates: the one rule for a series and hour repeated in one batch', () => {
  it('stores exact repeats once, refuses every row of a key whose values disagree, keeps the order of the rest', () => {
    const rows = [row(1, 0, 10), row(1, 1, 11), row(1, 0, 10), row(2, 0, 5), row(1, 1, 12), row(2, 1, null), row(2, 1, null), row(1, 1, 11), row(3, 0, 7, 'estimated'), row(3, 0, 7)];
    const s = settleDuplicates(rows);
    assert.deepEqual(s.unique, [row(1, 0, 10), row(2, 0, 5), row(2, 1, null)]);
    assert.equal(s.duplicates, 2, 'the second (1, 0, 10) and the second (2, 1, null)');
    assert.equal(s.conflicting, 3 + 2, 'all three rows of (1, h1) and both rows of (3, h0)');
    assert.deepEqual(s.conflicts.map((c) => [c.seriesId, c.ts.toISOString(), c.indices, c.values.map((v) => `${v.value}/${v.quality}`)]), [
      [1, at(1).toISOString(), [1, 4, 7], ['11/good', '12/good', '11/good']],
      [3, at(0).toISOString(), [8, 9], ['7/estimated', '7/good']],
    ]);
  });

  it('every row is kept, counted as a duplicate or refused; kept keys are unique; a key is refused exactly when its rows disagree', () => {
    const value = fc.oneof(fc.constant(null), fc.integer({ min: -3, max: 3 }));
    const arb = fc.array(fc.record({ seriesId: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 0, max: 3 }), value, quality: fc.constantFrom(...QUALITY) }), { maxLength: 40 });
    fc.assert(fc.property(arb, (spec) => {
      const rows = spec.map((r) => row(r.seriesId, r.h, r.value, r.quality));
      const s = settleDuplicates(rows);
      assert.equal(s.unique.length + s.duplicates + s.conflicting, rows.length);
      const key = (r: ObservationInput) => `${r.seriesId}|${r.ts.getTime()}`;
      assert.equal(new Set(s.unique.map(key)).size, s.unique.length);
      const variants = new Map<string, Set<string>>();
      for (const r of rows) variants.set(key(r), (variants.get(key(r)) ?? new Set()).add(`${r.value}|${r.quality}`));
      const refused = new Set(s.conflicts.map((c) => `${c.seriesId}|${c.ts.getTime()}`));
      for (const [k, v] of variants) {
        assert.equal(refused.has(k), v.size > 1, k);
        assert.equal(s.unique.some((r) => key(r) === k), v.size === 1, k);
      }
    }));
  });
});
