import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { toCsv } from './csv.ts';

const FORMULA = /^[=+\-@\t\r]/;
const dangerous = fc.tuple(fc.constantFrom('=', '+', '-', '@', '\t', '\r'), fc.string()).map(([a, b]) => a + b);
const cell = fc.oneof(dangerous, fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constant(null));

test('the shared CSV writer: read back, no text cell starts a formula, text keeps its content after the apostrophe, numbers stay numbers', () => {
  fc.assert(fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 4 }), fc.array(fc.array(cell, { minLength: 4, maxLength: 4 }), { maxLength: 15 }), (header, rows0) => {
    const rows = rows0.map((r) => r.slice(0, header.length));
    const back = parse(toCsv(header, rows), { relax_column_count: true, relax_quotes: true }) as string[][];
    assert.equal(back.length, rows.length + 1);
    back[0]!.forEach((h, j) => assert.equal(h, FORMULA.test(header[j]!) ? `'${header[j]}` : header[j]));
    rows.forEach((r, i) => r.forEach((v, j) => {
      const got = back[i + 1]![j]!;
      if (v === null) assert.equal(got, '');
      else if (typeof v === 'number') assert.ok(Number(got) === v, `a number (also a negative one) is written as itself: ${got} vs ${v}`);
      else {
        assert.ok(!FORMULA.test(got), JSON.stringify(got));
        assert.equal(got, FORMULA.test(v) ? `'${v}` : v);
      }
    }));
  }), { numRuns: 300 });
  assert.equal(toCsv(['a', 'b'], [['=cmd|\' /C calc\'!A0', -5]]), "a,b\n'=cmd|' /C calc'!A0,-5\n");
});
