import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { plainAnswer, USUAL_DAYS } from './plain-answer.ts';

const H = 3_600_000;
const T0 = Date.parse('2026-07-15T19:00:00Z'); // 12:00 in Los Angeles (PDT, UTC−7)
const LA = 'America/Los_Angeles';

/** hourly history for the 14 days before T0: `noonValue` at 12:00 local, 500 otherwise */
function history(noonValue: (day: number) => number) {
  const out: Array<{ ts: Date; value: number | null }> = [];
  for (let t = T0 - USUAL_DAYS * 24 * H; t < T0; t += H) {
    const day = Math.floor((t - (T0 - USUAL_DAYS * 24 * H)) / (24 * H));
    out.push({ ts: new Date(t), value: new Date(t).getUTCHours() === 19 ? noonValue(day) : 500 });
  }
  return out;
}
const flat = (from: number, hours: number, value: (i: number) => number) =>
  Array.from({ length: hours }, (_, i) => ({ start: from + i * H, durationMinutes: 60, value: value(i) }));

describe('plain answer', () => {
  it('says "dirtier than usual" against the median of the same local hour, and finds the cleanest 3 h with its saving', () => {
    // noon was 300 on 13 days and 900 on one: the median is 300; now 400 > 330
    // forecast from 13:00 local: 400 each hour except 240 at 17:00–20:00 local (hours 4..6 after 13:00)
    const a = plainAnswer({
      timeZone: LA, now: { hour: new Date(T0), value: 400 }, durationMinutes: 180,
      history: history((d) => (d === 3 ? 900 : 300)),
      forecast: flat(T0 + H, 30, (i) => (i >= 4 && i <= 6 ? 240 : 400)),
    });
    assert.deepEqual(a.usual, { value: 300, days: 14 });
    assert.equal(a.comparison, 'dirtier');
    assert.equal(a.cleanest!.start, new Date(T0 + 5 * H).toISOString());
    assert.equal(a.cleanest!.avg, 240);
    assert.equal(a.cleanest!.savingsPct, 40);
    assert.equal(a.sentence, 'Now: 400 g/kWh, dirtier than usual for this hour. Cleanest 3 h in the next 24 h: 17:00–20:00, 40 % less than now.');
  });

  it('says "about usual" within ±10 % and "cleaner" below; searches only the next 24 h', () => {
    const base = { timeZone: LA, durationMinutes: 60, history: history(() => 300) };
    // the only low hour is 30 h ahead: outside the horizon, so the earliest of the tied 400s wins
    const forecast = flat(T0 + H, 40, (i) => (i === 30 ? 10 : 400));
    const about = plainAnswer({ ...base, now: { hour: new Date(T0), value: 320 }, forecast });
    assert.equal(about.comparison, 'about usual');
    assert.equal(about.cleanest!.start, new Date(T0 + H).toISOString());
    assert.match(about.sentence, /^Now: 320 g\/kWh, about usual for this hour\. Cleanest 1 h in the next 24 h: 13:00–14:00, no cleaner than now\.$/);
    assert.equal(plainAnswer({ ...base, now: { hour: new Date(T0), value: 200 }, forecast }).comparison, 'cleaner');
  });

  it('does not call anything usual from fewer than half the days, and says when there is no forecast or no data', () => {
    const sparse = history(() => 300).filter((p) => p.ts.getTime() > T0 - 5 * 24 * H);
    const a = plainAnswer({ timeZone: LA, now: { hour: new Date(T0), value: 400 }, history: sparse, forecast: [], durationMinutes: 180 });
    assert.equal(a.usual, null);
    assert.equal(a.sentence, 'Now: 400 g/kWh. No forecast for the next 24 h yet.');
    assert.equal(plainAnswer({ timeZone: LA, now: null, history: [], forecast: [], durationMinutes: 180 }).sentence, 'No recent carbon intensity for this grid yet.');
  });

  it('never recommends a window dirtier than the cleanest one in the horizon (property)', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 1, max: 1500, noNaN: true }), { minLength: 24, maxLength: 48 }), fc.integer({ min: 1, max: 6 }), (values, hours) => {
      const forecast = flat(T0 + H, values.length, (i) => values[i]!);
      const a = plainAnswer({ timeZone: LA, now: { hour: new Date(T0), value: 500 }, history: [], forecast, durationMinutes: hours * 60 });
      const inHorizon = values.slice(0, 24);
      const avgs = inHorizon.slice(0, 24 - hours + 1).map((_, i) => inHorizon.slice(i, i + hours).reduce((s, v) => s + v, 0) / hours);
      assert.ok(Math.abs(a.cleanest!.avg - Math.min(...avgs)) < 1e-6);
    }));
  });
});
