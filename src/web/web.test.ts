import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pino } from 'pino';
import { canonicalZone, DEFAULT_PREFS, mergePrefs, parsePrefs, safeRedirect, serializePrefs, type Prefs } from './app/lib/prefs.ts';
import { displayZone } from './app/lib/use-zone.ts';
import { safeNext } from './app/lib/account-api.ts';
import { addDays, isIsoDate, localDate, zonedMidnight } from './app/lib/time.ts';
import { intensityColour, INTENSITY_BINS } from './app/lib/scale.ts';
import { fmtSigned, fmtSignedPct, toCsv } from './app/lib/format.ts';
import { badgeIntensity, badgeSvg } from './badge.ts';
import { createLiveHub, parseHoursEvent } from './live-hub.ts';
import { filterRows } from './app/lib/filter-rows.ts';
import type { Db } from '../platform/db.ts';
import type { NowRow } from './app/lib/api-types.ts';

const cookieOf = (p: Prefs) => serializePrefs(p).split(';')[0]!;

describe('preferences cookie', () => {
  it('round-trips every valid preference set', () => {
    fc.assert(fc.property(
      fc.option(fc.stringMatching(/^[A-Z0-9]{2,6}$/), { nil: null }), fc.constantFrom('ba', 'viewer', 'utc'), fc.constantFrom('light', 'dark', 'system'),
      fc.option(fc.constantFrom(...Intl.supportedValuesOf('timeZone').map((z) => canonicalZone(z)!)), { nil: null }),
      (ba, time, theme, zone) => {
        const p = { ba, time, theme, zone } as Prefs;
        assert.deepEqual(parsePrefs(`other=1; ${cookieOf(p)}; x=y`), p);
      }));
  });
  it('never throws on a hostile cookie and falls back to defaults field by field', () => {
    fc.assert(fc.property(fc.string(), (s) => { parsePrefs(`gp_prefs=${s}`); }));
    assert.deepEqual(parsePrefs('gp_prefs=%E0%A4%A'), DEFAULT_PREFS);
    assert.deepEqual(parsePrefs(`gp_prefs=${encodeURIComponent('ba=<script>&time=utc&theme=neon')}`), { ...DEFAULT_PREFS, time: 'utc' });
    assert.deepEqual(parsePrefs(undefined), DEFAULT_PREFS);
  });
  it('merges a form over the current preferences; an empty BA clears it', () => {
    const base: Prefs = { ba: 'CISO', time: 'utc', theme: 'dark', zone: null };
    assert.deepEqual(mergePrefs(base, new URLSearchParams('theme=light')), { ...base, theme: 'light' });
    assert.deepEqual(mergePrefs(base, new URLSearchParams('ba=')), { ...base, ba: null });
    assert.deepEqual(mergePrefs(base, new URLSearchParams('ba=erco&time=bogus')), { ...base, ba: 'ERCO' });
  });
  it('keeps the viewer\'s zone only when it is an IANA zone this runtime knows, in canonical form', () => {
    const zoneOf = (value: string) => parsePrefs(`gp_prefs=${encodeURIComponent(new URLSearchParams({ time: 'viewer', zone: value }).toString())}`).zone;
    assert.equal(zoneOf('Asia/Tokyo'), 'Asia/Tokyo');
    assert.equal(zoneOf('America/North_Dakota/New_Salem'), 'America/North_Dakota/New_Salem');
    assert.ok(zoneOf('America/Argentina/Buenos_Aires')?.endsWith('/Buenos_Aires')); // ICU may give its alias
    assert.equal(zoneOf('Etc/GMT+5'), 'Etc/GMT+5');
    assert.equal(zoneOf('asia/TOKYO'), 'Asia/Tokyo'); // one spelling per zone
    assert.equal(zoneOf('Etc/UTC'), 'UTC');
    const hostile = [
      '', 'Mars/Olympus_Mons', 'Asia/Tokyo/', '/Asia/Tokyo', 'Asia//Tokyo', '../../etc/passwd', '+05:30', '-08:00', 'Asia/Tokyo\n',
      'Asia/Tokyo<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "Asia/Tokyo'", 'Asia/Tokyo; Path=/', 'Asia/Tokyo\u0000',
      'Asia/Tōkyō', `Asia/${'A'.repeat(80)}`, 'constructor', '__proto__',
    ];
    for (const bad of hostile) {
      assert.equal(canonicalZone(bad), undefined, JSON.stringify(bad));
      assert.deepEqual(zoneOf(bad), null, JSON.stringify(bad));
    }
    for (const bad of [null, undefined, 42, ['Asia/Tokyo'], { toString: () => 'Asia/Tokyo' }]) assert.equal(canonicalZone(bad), undefined);
    // Absent: no zone, and the other preferences still parse.
    assert.deepEqual(parsePrefs(`gp_prefs=${encodeURIComponent('time=viewer&theme=dark')}`), { ...DEFAULT_PREFS, time: 'viewer', theme: 'dark' });
    // Any string at all: parses to a known zone or none, and what is serialised back carries only that.
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => {
      const zone = zoneOf(s);
      assert.ok(zone === null || canonicalZone(zone) === zone);
      const cookie = serializePrefs(parsePrefs(`gp_prefs=${encodeURIComponent(new URLSearchParams({ time: 'viewer', zone: s }).toString())}`));
      assert.match(cookie, /^gp_prefs=[A-Za-z0-9%*._-]*; Path=\/; /);
    }));
  });
  it('a form keeps the stored zone unless it sends a valid one', () => {
    const base: Prefs = { ba: null, time: 'viewer', theme: 'system', zone: 'Europe/Paris' };
    assert.equal(mergePrefs(base, new URLSearchParams('time=viewer&zone=Asia%2FTokyo')).zone, 'Asia/Tokyo');
    assert.equal(mergePrefs(base, new URLSearchParams('time=viewer&zone=')).zone, 'Europe/Paris');
    assert.equal(mergePrefs(base, new URLSearchParams('time=viewer&zone=%3Cscript%3E')).zone, 'Europe/Paris');
    assert.equal(mergePrefs({ ...base, zone: null }, new URLSearchParams('time=viewer')).zone, null);
  });
  it('shows times in the stored viewer zone, in UTC (labelled) while it is unknown', () => {
    assert.deepEqual(displayZone({ time: 'viewer', zone: 'Asia/Tokyo' }, 'America/Los_Angeles'), { timeZone: 'Asia/Tokyo', label: 'Asia/Tokyo' });
    assert.deepEqual(displayZone({ time: 'viewer', zone: null }, 'America/Los_Angeles'), { timeZone: 'UTC', label: 'UTC' });
    assert.deepEqual(displayZone({ time: 'ba', zone: 'Asia/Tokyo' }, 'America/Los_Angeles'), { timeZone: 'America/Los_Angeles', label: 'local' });
    assert.deepEqual(displayZone({ time: 'ba', zone: null }, undefined), { timeZone: 'UTC', label: 'UTC' });
    assert.deepEqual(displayZone({ time: 'utc', zone: 'Asia/Tokyo' }, 'America/Los_Angeles'), { timeZone: 'UTC', label: 'UTC' });
  });
  it('only redirects to same-site paths', () => {
    assert.equal(safeRedirect('/ba/CISO?date=2025-01-01'), '/ba/CISO?date=2025-01-01');
    for (const bad of ['//evil.example', 'https://evil.example', '/\\evil.example', '/\t/evil.example', '/\n/evil.example', '/\r\\evil.example', null, 42,
      '/.//evil.example', '/./\\evil.example', '/..//evil.example', '/ba/..//evil.example', '/prefs', '/embed/ba/CISO/now', '/nope']) assert.equal(safeRedirect(bad), '/', String(bad));
    // Whatever the string, the answer resolves (as a browser resolves Location) to this site and one of its pages.
    const piece = fc.constantFrom('/', '.', '..', '\\', '%2F', '%5C', '\t', '\r', '@', ':', 'evil.example', 'ba', 'CISO', '?', '#', 'http:');
    fc.assert(fc.property(fc.array(piece, { maxLength: 10 }).map((p) => p.join('')), (to) => {
      const answer = safeRedirect(`/${to}`);
      const url = new URL(answer, 'https://site.example');
      assert.equal(url.origin, 'https://site.example', `${to} → ${answer}`);
      assert.ok(!answer.startsWith('//'), `${to} → ${answer}`);
      assert.match(url.pathname, /^\/(ba(\/[A-Za-z0-9]{2,6})?|compare|pipeline|methodology)?$/, `${to} → ${answer}`);
    }), { numRuns: 2000 });
  });
  it('sends a visitor back after signing in only to a path of this site, with no control character (one rule for every redirect)', () => {
    assert.equal(safeNext('/account/views?x=1'), '/account/views?x=1');
    assert.equal(safeNext('/compare?bas=CISO,ERCO'), '/compare?bas=CISO,ERCO');
    // a fresh tester's finding: tab and newline were let through; browsers drop them and follow to another host,
    // and a newline made the Location header invalid (a 500)
    for (const bad of ['/\t/evil.example', '/\n/evil.example', '/\r\n/evil.example', '//evil.example', '/\\evil.example', '/.//evil.example',
      'https://evil.example', 'javascript:alert(1)', '', null, undefined]) assert.equal(safeNext(bad as string), '/account', String(bad));
    const piece = fc.constantFrom('/', '.', '..', '\\', '%2F', '%5C', '\t', '\n', '\r', '\u0000', '@', ':', 'evil.example', 'account', '?', '#', 'http:');
    fc.assert(fc.property(fc.array(piece, { maxLength: 10 }).map((p) => p.join('')), (to) => {
      const answer = safeNext(`/${to}`);
      assert.ok(![...answer].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f), JSON.stringify(answer));
      assert.ok(!answer.startsWith('//'), `${to} → ${answer}`);
      assert.equal(new URL(answer, 'https://site.example').origin, 'https://site.example', `${to} → ${answer}`);
    }), { numRuns: 2000 });
  });
});

describe('BA-local days', () => {
  it('finds local midnight across daylight-saving changes (hand-computed)', () => {
    assert.equal(zonedMidnight('2025-07-01', 'America/Los_Angeles').toISOString(), '2025-07-01T07:00:00.000Z');
    assert.equal(zonedMidnight('2025-01-15', 'America/New_York').toISOString(), '2025-01-15T05:00:00.000Z');
    // 2025-03-09 springs forward at 02:00 in Los Angeles: the day starts at PST and has 23 hours.
    assert.equal(zonedMidnight('2025-03-09', 'America/Los_Angeles').toISOString(), '2025-03-09T08:00:00.000Z');
    assert.equal(zonedMidnight('2025-03-10', 'America/Los_Angeles').getTime() - zonedMidnight('2025-03-09', 'America/Los_Angeles').getTime(), 23 * 3_600_000);
    assert.equal(zonedMidnight('2025-11-03', 'America/Chicago').getTime() - zonedMidnight('2025-11-02', 'America/Chicago').getTime(), 25 * 3_600_000);
    assert.equal(zonedMidnight('2025-06-01', 'America/Phoenix').toISOString(), '2025-06-01T07:00:00.000Z');
  });
  it('local midnight is the first instant of that local date, for any date and zone', () => {
    const zones = ['America/Los_Angeles', 'America/New_York', 'America/Chicago', 'America/Denver', 'America/Phoenix', 'Pacific/Honolulu', 'UTC'];
    fc.assert(fc.property(fc.integer({ min: 0, max: 3650 }), fc.constantFrom(...zones), (n, tz) => {
      const date = addDays('2020-01-01', n);
      const m = zonedMidnight(date, tz);
      assert.equal(localDate(m, tz), date);
      assert.notEqual(localDate(new Date(m.getTime() - 1), tz), date);
    }));
  });
  it('accepts only real calendar dates', () => {
    assert.ok(isIsoDate('2024-02-29'));
    for (const bad of ['2025-02-29', '2025-13-01', '2025-1-01', '20250101', 'yesterday', null]) assert.equal(isIsoDate(bad), false, String(bad));
  });
});

describe('intensity colour scale', () => {
  it('is monotone: a higher intensity never gets an earlier bin', () => {
    fc.assert(fc.property(fc.double({ min: -50, max: 2000, noNaN: true }), fc.double({ min: 0, max: 500, noNaN: true }), (a, d) => {
      assert.ok(intensityColour(a + d).bin >= intensityColour(a).bin);
    }));
  });
  it('puts bin edges in the upper bin and marks unknown as grey', () => {
    assert.equal(intensityColour(99.9).bin, 0);
    assert.equal(intensityColour(INTENSITY_BINS[0]).bin, 1);
    assert.equal(intensityColour(5000).bin, 7);
    assert.equal(intensityColour(null).bin, -1);
    assert.equal(intensityColour(Number.NaN).bin, -1);
  });
});

describe('badge and CSV', () => {
  it('escapes the BA and shows the rounded intensity or "no data"', () => {
    const svg = badgeSvg('CISO', 212.4, 'fresh');
    assert.match(svg, /212 g\/kWh/);
    assert.match(svg, /^<svg [^>]*role="img"/);
    assert.match(badgeSvg('CISO', null, 'unknown'), /no data/);
    assert.match(badgeSvg('CISO', 300, 'stale'), /\(stale\)/);
    assert.match(badgeSvg('WACM', 300, 'retired'), /\(retired\)/);
    assert.match(badgeSvg('WACM', null, 'retired'), /retired/, 'a retired BA with no data says retired, not "no data"');
    assert.doesNotMatch(badgeSvg('WACM', null, 'retired'), /no data/);
    assert.doesNotMatch(badgeSvg('<x>', 1, 'fresh'), /<x>/);
  });
  it('shows consumption-based intensity only: the newest hour with interchange while the newest waits for it, never production', () => {
    assert.equal(badgeIntensity({ intensity: { consumption: 300, production: 24 } }), 300);
    assert.equal(badgeIntensity({ intensity: { consumption: null, production: 24 }, latestConsumption: { value: 422 } }), 422);
    assert.equal(badgeIntensity({ intensity: { consumption: null, production: 24 }, latestConsumption: null }), null);
  });
  it('quotes CSV cells with commas, quotes and newlines', () => {
    assert.equal(toCsv(['a', 'b'], [['x,y', null], ['say "hi"', 3]]), 'a,b\n"x,y",\n"say ""hi""",3\n');
  });
});

describe('home table filters', () => {
  const row = (ba: string, region: string, intensity: number | null): NowRow => ({
    ba, name: `${ba} name`, region, interconnection: region === 'TEX' ? 'ercot' : 'western', timeZone: 'UTC', hour: null, intensity,
    productionIntensity: null, demandMw: null, renewableShare: null, source: 'eia', dataThrough: '2025-07-01T00:00:00.000Z', freshness: { status: 'fresh', lagMinutes: 0 },
  });
  const rows = [row('CISO', 'CAL', 250), row('ERCO', 'TEX', 400), row('BPAT', 'NW', 30), row('NEVP', 'NW', null), { ...row('AVA', 'NW', null), dataThrough: null }];
  it('searches, filters by region and interconnection, and sorts with unknown values last', () => {
    const codes = (q: string) => filterRows(rows, new URLSearchParams(q)).map((r) => r.ba);
    assert.deepEqual(codes('region=NW&show=all'), ['AVA', 'BPAT', 'NEVP'], 'BAs without any data only when asked for');
    assert.deepEqual(codes('sort=intensity'), ['BPAT', 'CISO', 'ERCO', 'NEVP']);
    assert.deepEqual(codes('sort=intensity&dir=desc'), ['ERCO', 'CISO', 'BPAT', 'NEVP']);
    assert.deepEqual(codes('region=NW'), ['BPAT', 'NEVP']);
    assert.deepEqual(codes('interconnection=ercot'), ['ERCO']);
    assert.deepEqual(codes('q=ciso'), ['CISO']);
    assert.deepEqual(codes('q=name&region=CAL'), ['CISO']);
  });
});

describe('live hub', () => {
  const fakeDb = (): Db & { fire(p: string): void; listens: number; stopped: number } => {
    let handler: ((p: string) => void) | undefined;
    const db = {
      kind: 'pglite', listens: 0, stopped: 0,
      query: async () => [], transaction: async () => { throw new Error('unused'); }, close: async () => {}, copyInto: async () => {}, copyTextInto: async () => {},
      listen: async (_c: string, h: (p: string) => void) => { db.listens++; handler = h; return async () => { db.stopped++; }; },
      fire: (p: string) => handler?.(p),
    };
    return db as unknown as Db & { fire(p: string): void; listens: number; stopped: number };
  };
  it('listens once per process and fans events out to the subscribers of the BAs named', async () => {
    const db = fakeDb();
    const hub = createLiveHub(db, pino({ level: 'silent' }));
    const got: Record<string, string[]> = { ciso: [], all: [], erco: [] };
    hub.subscribe(['CISO'], (e) => got.ciso!.push(e.newest));
    hub.subscribe([], (e) => got.all!.push(e.newest));
    const stop = hub.subscribe(['ERCO'], (e) => got.erco!.push(e.newest));
    await new Promise((r) => setImmediate(r));
    assert.equal(db.listens, 1);
    db.fire(JSON.stringify({ bas: ['CISO', 'PJM'], newest: '2025-07-01T17:00:00.000Z', source: 'eia' }));
    stop();
    db.fire(JSON.stringify({ bas: ['ERCO'], newest: '2025-07-01T18:00:00.000Z', source: 'eia' }));
    db.fire('not json');
    assert.deepEqual(got, { ciso: ['2025-07-01T17:00:00.000Z'], all: ['2025-07-01T17:00:00.000Z', '2025-07-01T18:00:00.000Z'], erco: [] });
    await hub.close();
    assert.equal(db.stopped, 1);
  });
  it('rejects malformed change events', () => {
    assert.equal(parseHoursEvent('{"bas":"CISO","newest":"x"}'), undefined);
    assert.equal(parseHoursEvent('{'), undefined);
    assert.deepEqual(parseHoursEvent('{"bas":["CISO",3],"newest":"2025-01-01T00:00:00Z"}'), { bas: ['CISO'], newest: '2025-01-01T00:00:00Z', source: '' });
  });
});

describe('signed numbers', () => {
  it('gives no direction to values that round to zero', () => {
    assert.equal(fmtSigned(-0.4), '±0');
    assert.equal(fmtSigned(1234.5, ' MW'), '+1,235 MW');
    assert.equal(fmtSigned(-56), '−56');
    assert.equal(fmtSignedPct(-0.04), '±0.0 %');
    assert.equal(fmtSignedPct(3.456), '+3.5 %');
  });
});
