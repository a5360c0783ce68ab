import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseEgridNumber } from './numbers.ts';

/** How Excel's formatted "save as CSV" writes a number: thousands separators, accounting negatives. */
function excelFormatted(n: number, decimals: number): string {
  const abs = Math.abs(n).toFixed(decimals);
  const [int, frac] = abs.split('.');
  const grouped = int!.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (frac ? `.${frac}` : '');
  return n < 0 ? `(${grouped})` : grouped;
}

const value = (s: string) => {
  const r = parseEgridNumber(s);
  assert.ok(r.ok, `${JSON.stringify(s)} should parse: ${r.ok ? '' : r.reason}`);
  return r.value;
};

describe('eGRID number parser', () => {
  it('reads every form the real files use', () => {
    assert.equal(value('1234.5'), 1234.5);
    assert.equal(value('1,234.5'), 1234.5);
    assert.equal(value('(1,234)'), -1234);
    assert.equal(value(' (48)'), -48);
    assert.equal(value('(0.010)'), -0.01);
    assert.equal(value('4e-05'), 4e-5);
    assert.equal(value('4.08555952396642e-06'), 4.08555952396642e-6);
    assert.equal(value('12.3%'), 0.123);
    assert.equal(value('61%'), 0.61);
    assert.equal(value('-11.383'), -11.383);
    assert.equal(value('1,730,472'), 1730472);
    assert.equal(value(''), null);
    assert.equal(value('   '), null);
    assert.deepEqual(parseEgridNumber('--'), { ok: true, value: null, notCalculated: true });
    assert.equal(value('NA'), null);
  });

  it('refuses what is not a number, saying what it got', () => {
    for (const bad of ['abc', '1.2.3', '12,34', '1,2345', '(-5)', '--5', '1e', 'Infinity', '0x10', '5 MW', '#DIV/0!']) {
      const r = parseEgridNumber(bad);
      assert.equal(r.ok, false, bad);
      if (!r.ok) assert.match(r.reason, /number|range|parentheses/);
    }
  });

  it('property: a plain number written by any writer reads back exactly', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
      const r = parseEgridNumber(String(n));
      assert.ok(r.ok);
      assert.equal(r.value, Object.is(n, -0) ? 0 : n);
    }), { numRuns: 2000 });
  });

  it('property: Excel-formatted numbers (thousands separators, (negatives)) read as the number rounded to the shown decimals', () => {
    fc.assert(fc.property(fc.double({ min: -1e12, max: 1e12, noNaN: true }), fc.integer({ min: 0, max: 4 }), fc.constantFrom('', ' ', '  '), (n, decimals, pad) => {
      const shown = excelFormatted(n, decimals);
      const r = parseEgridNumber(pad + shown + pad);
      assert.ok(r.ok, shown);
      const expected = Number(Math.abs(n).toFixed(decimals)) * (n < 0 ? -1 : 1);
      assert.equal(r.value, Object.is(expected, -0) ? 0 : expected, shown);
    }), { numRuns: 2000 });
  });

  it('property: a percentage is the fraction, and never outside 0..1 for 0..100 %', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }), (tenths) => {
      const r = parseEgridNumber(`${(tenths / 10).toFixed(1)}%`);
      assert.ok(r.ok && r.value !== null);
      assert.ok(r.value >= 0 && r.value <= 1);
      assert.ok(Math.abs(r.value - tenths / 1000) < 1e-12);
    }));
  });

  it('property: any string either parses to a finite number or null, or is refused — it never throws', () => {
    fc.assert(fc.property(fc.string({ maxLength: 30 }), (s) => {
      const r = parseEgridNumber(s);
      if (r.ok) assert.ok(r.value === null || Number.isFinite(r.value));
      else assert.ok(r.reason.length > 0);
    }), { numRuns: 5000 });
  });
});
