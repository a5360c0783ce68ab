import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backoffDelay } from './backoff.ts';

test('reconnect delays are full-jitter exponential: within [50 ms, min(cap, base·2^attempt)], spread across the range', () => {
  fc.assert(fc.property(fc.nat(60), fc.double({ min: 0, max: 0.999999, noNaN: true }), fc.integer({ min: 10, max: 5_000 }), fc.integer({ min: 5_000, max: 120_000 }), (attempt, r, baseMs, maxMs) => {
    const d = backoffDelay(attempt, { baseMs, maxMs, random: () => r });
    assert.ok(d >= 50 && d <= Math.max(50, Math.min(maxMs, baseMs * 2 ** attempt)), `${d}`);
  }));
  // 1,000 devices losing the broker at once do not come back in one wave
  const delays = Array.from({ length: 1_000 }, () => backoffDelay(6, { baseMs: 500, maxMs: 30_000 }));
  const buckets = new Set(delays.map((d) => Math.floor(d / 3_000)));
  assert.ok(buckets.size >= 9, `spread over ${buckets.size} three-second buckets of 30 s`);
});
