import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { onInterrupt, SAME_REQUEST_MS } from './interrupts.ts';

describe('onInterrupt', () => {
  it('takes one signal delivered twice at once (Ctrl-C to the process group and the bin shim passing it on) as one request; a later second one stops now', (t) => {
    const exits: number[] = [];
    t.mock.method(process, 'exit', (code: number) => { exits.push(code); });
    let clock = 1_000;
    let stops = 0;
    const off = onInterrupt(() => { stops++; }, new PassThrough(), () => clock);
    try {
      process.emit('SIGINT', 'SIGINT');
      clock += 5;
      process.emit('SIGINT', 'SIGINT');
      process.emit('SIGTERM', 'SIGTERM');
      assert.deepEqual([stops, exits], [1, []], 'the same request, not "again"');
      clock += SAME_REQUEST_MS;
      process.emit('SIGINT', 'SIGINT');
      assert.deepEqual([stops, exits], [1, [130]], 'a second Ctrl-C later still stops at once');
    } finally {
      off();
    }
  });
});
