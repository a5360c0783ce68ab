import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isoInstant, parseInstant } from './instant.ts';

const ms = (text: string) => {
  const p = parseInstant(text);
  if ('error' in p) assert.fail(p.error);
  return p.ms;
};
const error = (text: string) => {
  const p = parseInstant(text);
  return 'error' in p ? p.error : `parsed as ${new Date(p.ms).toISOString()}`;
};

/** Runs `f` with the process in another time zone, so reading text in the server's zone would show. */
function inZone<T>(zone: string, f: () => T): T {
  const before = process.env.TZ;
  process.env.TZ = zone;
  try { return f(); } finally {
    if (before === undefined) delete process.env.TZ; else process.env.TZ = before;
  }
}

describe('parseInstant', () => {
  it('reads dates, zoned times and offsets', () => {
    assert.equal(ms('2022-01-01'), Date.UTC(2022, 0, 1));
    assert.equal(ms('2022-03-01T15:30:00Z'), Date.UTC(2022, 2, 1, 15, 30));
    assert.equal(ms('2022-03-01T15:30Z'), Date.UTC(2022, 2, 1, 15, 30));
    assert.equal(ms('2022-03-01t15:30:00z'), Date.UTC(2022, 2, 1, 15, 30));
    assert.equal(ms('2022-03-01T15:30:00+01:00'), Date.UTC(2022, 2, 1, 14, 30));
    assert.equal(ms('2022-03-01T15:30:00-0430'), Date.UTC(2022, 2, 1, 20, 0));
    assert.equal(ms('2022-05-17T20:45:11.5092741+00:00'), Date.UTC(2022, 4, 17, 20, 45, 11, 509));
  });

  it("reads a time without an offset as UTC, whatever the server's zone (the SDK's examples send such times)", () => {
    for (const zone of ['America/New_York', 'Asia/Kolkata', 'UTC']) {
      inZone(zone, () => {
        assert.equal(ms('2022-05-01T14:00:00'), Date.UTC(2022, 4, 1, 14), zone);
        assert.equal(ms('2022-05-01T14:00'), Date.UTC(2022, 4, 1, 14), zone);
      });
    }
    // the trap this avoids: JavaScript reads the same text in the server's zone
    assert.notEqual(inZone('America/New_York', () => Date.parse('2022-05-01T14:00:00')), Date.UTC(2022, 4, 1, 14));
  });

  it("refuses a '+' that arrived as a space, saying to encode it as %2B", () => {
    assert.match(error('2022-03-01T15:30:00 01:00'), /%2B/);
    assert.match(error('2022-03-01T15:30 0100'), /%2B/);
  });

  it('refuses impossible dates, times and offsets, and other text', () => {
    for (const bad of ['2022-02-30', '2022-02-29T00:00Z', '2022-13-01', '2022-01-01T24:00Z', '2022-01-01T12:60Z', '2022-01-01T12:00:60Z',
      '2022-01-01T12:00+24:00', '2022-1-1T04:05:06Z', '2022-06-13T6:05:00Z', 'yesterday', '', '2022-01-01 12:00', '1656590400']) {
      assert.ok(!('ms' in parseInstant(bad)), bad);
    }
    assert.equal(ms('2024-02-29T00:00Z'), Date.UTC(2024, 1, 29));
  });

  it('agrees with Date for every instant it writes back in ISO form, with Z or an offset (property)', () => {
    fc.assert(fc.property(
      fc.date({ min: new Date('2000-01-02T00:00:00Z'), max: new Date('2099-12-30T23:59:59Z'), noInvalidDate: true }),
      fc.integer({ min: -14 * 60, max: 14 * 60 }),
      (d, offsetMinutes) => {
        const iso = d.toISOString();
        if (ms(iso) !== d.getTime()) return false;
        const local = new Date(d.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23);
        const abs = Math.abs(offsetMinutes);
        const offset = `${offsetMinutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
        return ms(local + offset) === d.getTime() && ms(local) === d.getTime() + offsetMinutes * 60_000;
      }));
  });
});

describe('parseInstant era', () => {
  it('refuses dates outside 2000–2099 (the year 0000, negative and six-digit years) saying so, and keeps the edges', () => {
    for (const text of ['0000-01-01', '0000-12-31T23:00Z', '1999-12-31T23:59:59Z', '2000-01-01T00:30+01:00', '2100-01-01', '9999-12-31']) {
      const r = parseInstant(text);
      assert.ok('error' in r && /outside the dates GridPulse answers about \(between 2000-01-01 and 2099-12-31\)/.test(r.error), text);
    }
    for (const text of ['-000001-12-31', '+275760-09-13T00:00Z']) assert.ok('error' in parseInstant(text), text);
    assert.deepEqual(parseInstant('2000-01-01'), { ms: Date.UTC(2000, 0, 1) });
    assert.deepEqual(parseInstant('2099-12-31T23:59:59Z'), { ms: Date.UTC(2099, 11, 31, 23, 59, 59) });
  });
});

describe('isoInstant', () => {
  it('hands on the canonical UTC text and names the reason when it refuses', () => {
    assert.equal(isoInstant.parse('2022-05-01T14:00:00'), '2022-05-01T14:00:00.000Z');
    assert.equal(isoInstant.parse('2022-03-01T15:30:00+01:00'), '2022-03-01T14:30:00.000Z');
    const refused = isoInstant.safeParse('2022-03-01T15:30:00 01:00');
    assert.equal(refused.success, false);
    assert.match(refused.error!.issues[0]!.message, /%2B/);
  });
});
