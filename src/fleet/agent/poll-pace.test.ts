import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { nextPollDelay, retryAfterMs, type LinkOutcome } from './poll-pace.ts';

const outcomes: fc.Arbitrary<LinkOutcome> = fc.oneof(
  fc.constant({ kind: 'changed' as const }), fc.constant({ kind: 'unchanged' as const }),
  fc.record({ kind: fc.constant('refused' as const), status: fc.integer({ min: 400, max: 599 }) }),
  fc.record({ kind: fc.constant('refused' as const), retryAfterMs: fc.nat(3_600_000) }),
);

test('two polls never start closer than the minimum interval, whatever the server answered and however fast', () => {
  fc.assert(fc.property(outcomes, fc.nat(60_000), fc.constantFrom(0, 1_000, 30_000), fc.nat(40), fc.integer({ min: 100, max: 10_000 }),
    fc.double({ min: 0, max: 0.999999, noNaN: true }), (outcome, elapsed, wait, attempt, minIntervalMs, r) => {
      const d = nextPollDelay(outcome, elapsed, wait, attempt, { minIntervalMs, random: () => r });
      assert.ok(elapsed + d >= minIntervalMs, `${elapsed} + ${d} < ${minIntervalMs}`);
    }));
});

test('an answer with nothing new that came well before the wait is followed by the rest of the wait; a held one is not', () => {
  const r = { random: () => 0 };
  assert.equal(nextPollDelay({ kind: 'unchanged' }, 5, 30_000, 0, r), 29_995, 'a 204/304 at once: as if held for the wait');
  assert.equal(nextPollDelay({ kind: 'unchanged' }, 29_900, 30_000, 0, r), 0, 'held for the wait: the next poll at once');
  assert.equal(nextPollDelay({ kind: 'changed' }, 5, 30_000, 0, r), 1_995, 'a new version: only the floor (2 s)');
});

test('a refusal backs off, and a Retry-After is obeyed (capped)', () => {
  const r = { random: () => 0.5 };
  assert.equal(nextPollDelay({ kind: 'refused', status: 429, retryAfterMs: 60_000 }, 10, 30_000, 0, r), 60_000);
  assert.equal(nextPollDelay({ kind: 'refused', status: 429, retryAfterMs: 7 * 86_400_000 }, 10, 30_000, 0, r), 15 * 60_000);
  assert.equal(nextPollDelay({ kind: 'refused' }, 10, 30_000, 10, r), 15_000, 'the 11th error in a row: half of the 30 s cap');
  assert.equal(retryAfterMs('120'), 120_000);
  assert.equal(retryAfterMs(new Date(Date.parse('2026-12-01T00:01:00Z')).toUTCString(), Date.parse('2026-12-01T00:00:00Z')), 60_000);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs(null), undefined);
});
