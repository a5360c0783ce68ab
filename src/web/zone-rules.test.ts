import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { adoptZoneRules, deriveZoneRules, offsetMinutes, packZoneRules, unpackZoneRules, zoneRulesFor } from './app/lib/zone-rules.ts';
import { chartDate, dateTimeLabel, hourLabel, timeAxisLabels } from './app/lib/time.ts';
import { seriesColours } from './app/lib/scale.ts';

const SPAN = { from: Date.UTC(2015, 0, 1), to: Date.now() + 300 * 86_400_000 };
/** The wall clock as this runtime's Intl has it (numeric fields: month names differ between ICU versions, 'Sep' or 'Sept'). */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const intl = (t: number, timeZone: string, withDate: boolean) => {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' })
    .formatToParts(t).map((x) => [x.type, x.value]));
  const clock = `${p.hour}:${p.minute}`;
  return withDate ? `${Number(p.day)} ${MONTHS[Number(p.month) - 1]}, ${clock}` : clock;
};
// US, Canadian and Mexican BA zones, zones with half-hour and 45-minute offsets, the southern hemisphere, and one that abolished DST
const ZONES = ['America/Los_Angeles', 'America/Winnipeg', 'America/Phoenix', 'America/Boise', 'America/Chicago', 'America/New_York', 'America/Denver',
  'America/Tijuana', 'America/Mexico_City', 'Pacific/Honolulu', 'America/Anchorage', 'Asia/Kolkata', 'Asia/Kathmandu', 'Australia/Lord_Howe',
  'America/Sao_Paulo', 'Europe/Moscow', 'Etc/GMT+6', 'UTC'];

describe('zone rules: time labels from the server\'s tzdata', () => {
  it('reproduce this runtime\'s own wall clock at any instant of the span, in every zone (property)', () => {
    const rules = zoneRulesFor(ZONES, Date.now());
    fc.assert(fc.property(fc.constantFrom(...ZONES), fc.integer({ min: SPAN.from, max: SPAN.to }), (zone, t) => {
      assert.equal(hourLabel(t, zone), intl(t, zone, false), `${zone} ${new Date(t).toISOString()}`);
      assert.equal(dateTimeLabel(t, zone), intl(t, zone, true), `${zone} ${new Date(t).toISOString()}`);
      assert.ok(rules[zone]!.length >= 1);
    }), { numRuns: 2000 });
  });

  it('travel with the page packed, and unpack to the same rules', () => {
    const rules = zoneRulesFor(ZONES, Date.now());
    const packed = packZoneRules(rules);
    assert.deepEqual(unpackZoneRules(packed), rules);
    assert.ok(packed.length < 4_000, `${packed.length} characters`);
  });

  it('find each clock change to the minute (both sides of every US change in 2026)', () => {
    const rules = deriveZoneRules('America/New_York', Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1));
    assert.deepEqual(rules.slice(1).map(([t, o]) => [new Date(t).toISOString(), o]), [['2026-03-08T07:00:00.000Z', -240], ['2026-11-01T06:00:00.000Z', -300]]);
    const lordHowe = deriveZoneRules('Australia/Lord_Howe', Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1));
    assert.ok(lordHowe.some(([, o]) => o === 630) && lordHowe.some(([, o]) => o === 660), 'half-hour daylight time');
  });

  it('the rules a page was rendered with win over the browser\'s own (what hydration relies on)', () => {
    const t = Date.UTC(2026, 10, 30, 12, 0);
    // A runtime whose data disagrees (say the browser's older tzdata for Winnipeg): the shipped rules decide.
    adoptZoneRules(packZoneRules({ 'Test/Shipped': [[0, -300]] }));
    assert.equal(offsetMinutes(t, 'Test/Shipped'), -300);
    assert.equal(hourLabel(t, 'Test/Shipped'), '07:00');
    assert.equal(dateTimeLabel(t, 'Test/Shipped'), '30 Nov, 07:00');
    adoptZoneRules(packZoneRules({ 'Test/Shipped': [[0, -300], [t, -360]] }));
    assert.equal(hourLabel(t - 60_000, 'Test/Shipped'), '06:59');
    assert.equal(hourLabel(t, 'Test/Shipped'), '06:00');
    // charts read the same rules: a local Date showing that wall clock
    const d = chartDate(t, 'Test/Shipped');
    assert.deepEqual([d.getDate(), d.getHours(), d.getMinutes()], [30, 6, 0]);
  });
});

describe('series colours', () => {
  it('are distinct for any number of series on one chart (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 80 }), (n) => {
      const colours = seriesColours(n);
      assert.equal(colours.length, n);
      assert.equal(new Set(colours).size, n);
    }));
    // the reported case: CISO's ten neighbours, where AZPS/TIDC and BANC/WALC shared a colour
    const ciso = ['AZPS', 'BANC', 'BPAT', 'IID', 'LDWP', 'NEVP', 'PACW', 'SRP', 'TIDC', 'WALC'];
    const c = seriesColours(ciso.length);
    assert.notEqual(c[ciso.indexOf('AZPS')], c[ciso.indexOf('TIDC')]);
    assert.notEqual(c[ciso.indexOf('BANC')], c[ciso.indexOf('WALC')]);
  });
});

test('time-axis labels say the hour (and the day where it changes) in the zone, never a bare ":00"', () => {
  const hour = 3_600_000;
  const start = Date.parse('2026-11-30T20:00:00Z');
  const ticks = Array.from({ length: 8 }, (_, i) => start + i * hour);
  const utc = timeAxisLabels(ticks, 'UTC');
  assert.deepEqual(utc, ['30 Nov, 20:00', '21:00', '22:00', '23:00', '1 Dec, 00:00', '01:00', '02:00', '03:00']);
  assert.equal(new Set(utc).size, utc.length, 'every tick is told apart');
  for (const l of utc) assert.doesNotMatch(l, /^:/);
  // in New York the day changes 5 hours later
  assert.deepEqual(timeAxisLabels(ticks, 'America/New_York').slice(0, 5), ['30 Nov, 15:00', '16:00', '17:00', '18:00', '19:00']);
});
