import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { sharedDataTest, sharedPath } from '../../../test/support/shared-data.ts';
import { parsePjmUtc, PJM_FUEL_CODES, pjmIntensityHistory, readPjmFuelCsv } from './pjm-fuel.ts';
import { backtestPjmFuel, originHoursOf } from '../../cli/forecast-command.ts';
import { assertServesTheBetter } from './forecast-test-support.ts';

const HEADER = 'datetime_beginning_utc,datetime_beginning_ept,fuel_type,mw,fuel_percentage_of_total,is_renewable';
const row = (utc: string, fuel: string, mw: string) => `${utc},x,${fuel},${mw},0.1,False`;

describe('PJM generation by fuel (Data Miner 2 gen_by_fuel)', () => {
  it('reads PJM\'s 12-hour UTC clock as hour starts: 12 AM is 00:00, 12 PM is noon, no hour-ending shift', () => {
    assert.equal(parsePjmUtc('1/1/2025 12:00:00 AM'), Date.UTC(2025, 0, 1, 0));
    assert.equal(parsePjmUtc('1/1/2025 12:00:00 PM'), Date.UTC(2025, 0, 1, 12));
    assert.equal(parsePjmUtc('6/2/2025 4:00:00 AM'), Date.UTC(2025, 5, 2, 4));
    assert.equal(parsePjmUtc('12/31/2025 11:00:00 PM'), Date.UTC(2025, 11, 31, 23));
    for (const bad of ['2/30/2025 1:00:00 AM', '1/1/2025 13:00:00 PM', '1/1/2025 0:00:00 AM', '2025-01-01T00', '']) assert.ok(Number.isNaN(parsePjmUtc(bad)), bad);
  });

  it('maps every PJM category to an EIA-930 code and computes production intensity hand by hand; newest-first rows and CRLF are fine', () => {
    // two hours, newest first as PJM exports them; every category present in both
    const fuels = Object.keys(PJM_FUEL_CODES);
    const mw: Record<string, [number, number]> = {
      Coal: [100, 200], Gas: [300, 300], Hydro: [50, 0], 'Multiple Fuels': [10, 0], Nuclear: [500, 500],
      Oil: [0, 0], 'Other Renewables': [20, 0], Solar: [0, 0], Storage: [5, 0], Wind: [15, 0],
    };
    const lines = [HEADER, ...fuels.map((f) => row('1/1/2025 6:00:00 AM', f, String(mw[f]![1]))), ...fuels.map((f) => row('1/1/2025 5:00:00 AM', f, String(mw[f]![0])))];
    const mix = readPjmFuelCsv(lines.join('\r\n') + '\r\n');
    assert.deepEqual(mix.ts.map((t) => t.toISOString()), ['2025-01-01T05:00:00.000Z', '2025-01-01T06:00:00.000Z']);
    assert.equal(mix.rows, 20);
    assert.deepEqual(mix.rejected, []);
    assert.deepEqual(Object.keys(mix.fuels).sort(), ['BAT', 'BIO', 'COL', 'NG', 'NUC', 'OIL', 'OTH', 'SUN', 'WAT', 'WND']);
    assert.deepEqual(mix.fuels.COL, [100, 200]);
    const h = pjmIntensityHistory(mix);
    // hour 1: coal 100×820 + gas 300×490 + hydro 50×24 + multiple fuels (OTH) 10×700 + nuclear 500×12 + biomass 20×230 + wind 15×11,
    // over 995 MWh of non-storage generation (storage takes the hour's intensity and does not change it)
    const e1 = 100 * 820 + 300 * 490 + 50 * 24 + 10 * 700 + 500 * 12 + 20 * 230 + 15 * 11;
    assert.ok(Math.abs(h.y[0]! - e1 / 995) < 1e-9, `${h.y[0]} vs ${e1 / 995}`);
    const e2 = 200 * 820 + 300 * 490 + 500 * 12;
    assert.ok(Math.abs(h.y[1]! - e2 / 1000) < 1e-9, `${h.y[1]} vs ${e2 / 1000}`);
  });

  it('rejects bad rows with their line and reason, keeps the good ones, and counts conflicting duplicates (first kept)', () => {
    const text = [HEADER,
      row('1/1/2025 5:00:00 AM', 'Coal', '100'),
      row('1/1/2025 5:00:00 AM', 'Gas', '300'),
      row('1/1/2025 5:00:00 AM', 'Gas', '310'),
      row('1/1/2025 5:00:00 AM', 'Coal', '100'),
      row('1/1/2025 5:00:00 AM', 'Geothermal', '5'),
      row('1/1/2025 5:30:00 AM', 'Coal', '1'),
      row('1/1/2025 25:00:00 AM', 'Coal', '1'),
      row('1/1/2025 8:00:00 AM', 'Coal', 'n/a'),
      row('1/1/2025 7:00:00 AM', 'Coal', '120'),
      '',
    ].join('\n');
    const mix = readPjmFuelCsv(text);
    assert.equal(mix.rows, 9);
    assert.deepEqual(mix.rejected.map((r) => r.line), [6, 7, 8, 9]);
    assert.match(mix.rejected[0]!.reason, /fuel_type 'Geothermal'/);
    assert.match(mix.rejected[1]!.reason, /not the start of an hour/);
    assert.match(mix.rejected[2]!.reason, /datetime_beginning_utc/);
    assert.match(mix.rejected[3]!.reason, /mw 'n\/a'/);
    assert.deepEqual(mix.conflicts.map((c) => [c.fuel, c.kept, c.other]), [['Gas', 300, 310]]);
    // a repeated identical value is no conflict; the missing hour 06:00 is a null, not a guess
    assert.deepEqual(mix.ts.map((t) => t.getUTCHours()), [5, 6, 7]);
    assert.deepEqual(mix.fuels.COL, [100, null, 120]);
    // 07:00 has coal but no gas: part of the mix is missing, so its intensity is left out
    assert.deepEqual(pjmIntensityHistory(mix).y.map((v) => v === null ? null : Math.round(v * 1000) / 1000), [(100 * 820 + 300 * 490) / 400, null, null]);
  });

  it('--origins-per-day spreads origins evenly from local midnight and refuses uneven counts', () => {
    assert.deepEqual(originHoursOf(undefined), [0]);
    assert.deepEqual(originHoursOf('4'), [0, 6, 12, 18]);
    assert.throws(() => originHoursOf('5'), /--origins-per-day/);
  });

  it('refuses a file that is not PJM\'s, naming the columns it needs', () => {
    assert.throws(() => readPjmFuelCsv('period,E_PJM_D\n2025-01-01T00,1\n'), /datetime_beginning_utc, fuel_type and mw/);
  });
});

describe('intensity forecast on PJM\'s own fuel mix (five months of 2025)', () => {
  const file = sharedPath('iso_ops', 'pjm', 'pjm_gen_by_fuel_2025-01-01_to_2025-06-02.csv');
  it('reads the real file whole: 3,648 hours × 10 fuels, nothing rejected, every hour has an intensity', sharedDataTest(), () => {
    assert.ok(existsSync(file), file);
    const mix = readPjmFuelCsv(readFileSync(file, 'utf8'));
    assert.equal(mix.rows, 36_480);
    assert.equal(mix.ts.length, 3648);
    assert.deepEqual(mix.rejected, []);
    assert.deepEqual(mix.conflicts, []);
    const y = pjmIntensityHistory(mix).y;
    assert.ok(y.every((v) => v !== null && v > 100 && v < 820), 'production intensity between nuclear-heavy and all-coal');
  });

  it('beats both seasonal-naive references in every lead bucket it serves, and serves the better reference where it does not', sharedDataTest(), () => {
    // the last 56 days before the final 48 h, four origins a day (00, 06, 12, 18 EPT): 224 forecasts of 48 h
    const [r, ...rest] = backtestPjmFuel(file, { days: 56, originHours: [0, 6, 12, 18] });
    assert.equal(rest.length, 0);
    assert.equal(r!.days, 56);
    assert.equal(r!.origins, 224);
    assert.equal(r!.hours, 224 * 48, 'every forecast hour has an actual and both naive references');
    assertServesTheBetter(r!);
  });
});
