import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getEventListeners } from 'node:events';
import { backoffDelay, sleep } from './backoff.ts';

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

test('a backoff or poll sleep ends at once when its signal is aborted, and one that ran out leaves no listener on the long-lived signal', async () => {
  const stop = new AbortController();
  for (let i = 0; i < 50; i++) await sleep(1, stop.signal);
  assert.equal(getEventListeners(stop.signal, 'abort').length, 0, 'an agent polls for months on one signal: its sleeps must not pile up listeners');
  const t0 = performance.now();
  const long = sleep(60_000, stop.signal);
  stop.abort();
  await long;
  await sleep(60_000, stop.signal);
  assert.ok(performance.now() - t0 < 1_000);
});
