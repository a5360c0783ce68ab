import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { periodStart, toPoint } from './eia-schema.ts';
import { parseGridemissionsCsv } from './gridemissions.ts';
import { observationRow } from './data-api.ts';
import { MAX_ABS_VALUE, parseObservationValue, VALUE_RANGE_REASON } from '../grid/values.ts';

/**
 * Every path that writes observations (EIA pages, replayed gridemissions files of both layouts, the data API)
 * reads dates and values by the same strict rules: an impossible date (2022-02-30) is refused, never rolled over
 * into March; hex text (0x10) is not a number; a value beyond any physical hourly value (1e308) is refused with
 * a reason instead of overflowing the database and failing the whole batch.
 */
describe('write paths read dates and values strictly', () => {
  it('EIA periods: impossible dates and hours are refused, real ones map to the hour start', () => {
    assert.equal(periodStart('2022-03-02T05')?.toISOString(), '2022-03-02T04:00:00.000Z');
    for (const p of ['2022-02-30T05', '2022-13-01T01', '2022-01-01T25', '0000-01-01T01']) assert.equal(periodStart(p), undefined, p);
    assert.throws(() => toPoint('region', { period: '2022-02-30T07', respondent: 'PJM', type: 'D', value: '100' }), /real calendar date/);
  });

  it('EIA values: decimal text or numbers within ±1e7; hex, blank and huge values are refused with a reason', () => {
    assert.equal(toPoint('region', { period: '2022-03-02T07', respondent: 'PJM', type: 'D', value: '2515' }).value, 2515);
    assert.equal(toPoint('region', { period: '2022-03-02T07', respondent: 'PJM', type: 'D', value: '-1.5e3' }).value, -1500);
    for (const value of ['0x10', ' 5', '', '1e308', 'Infinity', 1e308]) {
      assert.throws(() => toPoint('region', { period: '2022-03-02T07', respondent: 'PJM', type: 'D', value }), /not a decimal number|not a physical hourly value/, String(value));
    }
  });

  it('gridemissions files of both layouts: a row with an impossible stamp and cells with hex or huge values are counted with reasons, the rest kept', () => {
    const e = parseGridemissionsCsv('period,E_SWPP_D,E_SWPP_NG\n2022-02-30T05,100,100\n2022-03-01T05,0x20,1e308\n2022-03-01T06,200,210');
    assert.deepEqual(e.points.map((p) => [p.ts.toISOString(), p.code, p.value]), [['2022-03-01T05:00:00.000Z', 'D', 200], ['2022-03-01T05:00:00.000Z', 'NG', 210]]);
    assert.deepEqual(e.reasons, { 'malformed period (expected hour-ending UTC YYYY-MM-DDTHH on a real date)': 2, 'value is not a decimal number': 1, [VALUE_RANGE_REASON]: 1 });
    const eba = parseGridemissionsCsv(',EBA.ERCO-ALL.D.H\n2022-02-30 01:00:00+00:00,5\n20220230T01Z,6\n2022-03-01 01:00:00+00:00,7');
    assert.deepEqual(eba.points.map((p) => [p.ts.toISOString(), p.value]), [['2022-03-01T00:00:00.000Z', 7]]);
    assert.equal(eba.reasons['malformed timestamp (not a calendar date)'], 2);
  });

  it('the data API: an impossible ts and a value beyond the physical range are row errors naming the field', () => {
    const bad = observationRow.safeParse({ series: 'NYIS.demand', ts: '2022-02-30T00:00:00Z', value: 1 });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error!.issues[0]!.path, ['ts']);
    const huge = observationRow.safeParse({ series: 'NYIS.demand', ts: '2022-03-01T00:00:00Z', value: 1e308 });
    assert.equal(huge.success, false);
    assert.deepEqual(huge.error!.issues[0]!.path, ['value']);
    assert.equal(observationRow.safeParse({ series: 'NYIS.demand', ts: '2022-03-01T00:00:00Z', value: -MAX_ABS_VALUE }).success, true);
  });

  it('a value is accepted exactly when it is a finite decimal within ±1e7 (property)', () => {
    fc.assert(fc.property(fc.double({ noNaN: false }), (v) => {
      const r = parseObservationValue(String(v));
      assert.equal(typeof r === 'number', Number.isFinite(v) && Math.abs(v) <= MAX_ABS_VALUE, String(v));
    }));
  });
});
