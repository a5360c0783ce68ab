import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { commandAt, judgeSchedule, scheduleEnd } from './command.ts';
import { FALLBACKS, type ScheduleMessage } from '../messages.ts';

const T0 = Date.parse('2026-12-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

/** Non-overlapping minute-aligned intervals with gaps, as the API would accept them. */
const arbSchedule = fc.record({
  version: fc.integer({ min: 1, max: 1_000 }),
  fallback: fc.constantFrom(...FALLBACKS),
  pieces: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 120 }), len: fc.integer({ min: 1, max: 240 }), action: fc.constantFrom('charge', 'discharge', 'idle', 'hold-soc' as const), powerKw: fc.integer({ min: 0, max: 10 }) }), { maxLength: 12 }),
}).map(({ version, fallback, pieces }): ScheduleMessage => {
  let at = T0;
  const intervals = pieces.map((p) => {
    const start = at + p.gap * 60_000;
    at = start + p.len * 60_000;
    return { start: iso(start), end: iso(at), action: p.action, powerKw: p.powerKw };
  });
  return { schema: 'gridpulse.schedule/1', deviceId: 'dev-001', version, issuedAt: iso(T0), intervals, fallback };
});

test('every minute has exactly one defined command: the interval containing it, else the fallback', () => {
  fc.assert(fc.property(arbSchedule, fc.integer({ min: -60, max: 3_000 }), (s, minute) => {
    const at = T0 + minute * 60_000;
    const c = commandAt(s, 'idle', at);
    const containing = s.intervals.filter((i) => Date.parse(i.start) <= at && at < Date.parse(i.end));
    assert.ok(containing.length <= 1);
    if (containing[0]) {
      assert.equal(c.source, 'schedule');
      assert.equal(c.mode, containing[0].action);
      assert.equal(s.intervals[c.intervalIndex!], containing[0]);
    } else {
      assert.equal(c.source, 'fallback');
      assert.equal(c.mode, s.fallback);
      assert.equal(c.intervalIndex, undefined);
    }
    assert.equal(c.version, s.version);
    assert.ok(Number.isFinite(c.powerKw) && c.powerKw >= 0);
  }));
});

test('before any schedule the configured fallback runs, as version 0', () => {
  assert.deepEqual(commandAt(undefined, 'self-consumption', T0), { mode: 'self-consumption', powerKw: 0, version: 0, source: 'fallback' });
});

test('an interval is start-inclusive and end-exclusive; the schedule ends at its last interval', () => {
  const s: ScheduleMessage = {
    schema: 'gridpulse.schedule/1', deviceId: 'dev-001', version: 3, issuedAt: iso(T0), fallback: 'hold-soc',
    intervals: [{ start: iso(T0), end: iso(T0 + 3_600_000), action: 'charge', powerKw: 4 }, { start: iso(T0 + 3_600_000), end: iso(T0 + 7_200_000), action: 'discharge', powerKw: 2, targetSoc: 30 }],
  };
  assert.equal(commandAt(s, 'idle', T0).mode, 'charge');
  assert.equal(commandAt(s, 'idle', T0 + 3_599_999).powerKw, 4);
  assert.deepEqual(commandAt(s, 'idle', T0 + 3_600_000), { mode: 'discharge', powerKw: 2, targetSoc: 30, version: 3, intervalIndex: 1, source: 'schedule' });
  assert.equal(commandAt(s, 'idle', T0 + 7_200_000).mode, 'hold-soc');
  assert.equal(scheduleEnd(s), T0 + 7_200_000);
});

test('a version is accepted only when newer than both the cached and the acknowledged one', () => {
  fc.assert(fc.property(fc.nat(50), fc.nat(50), fc.integer({ min: 1, max: 60 }), (cachedVersion, ackedVersion, v) => {
    const verdict = judgeSchedule(v, { cachedVersion, ackedVersion });
    if (v === cachedVersion) assert.equal(verdict, 'duplicate');
    else if (v <= ackedVersion || v < cachedVersion) assert.equal(verdict, 'stale');
    else assert.equal(verdict, 'accept');
  }));
});
