import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Outage } from './outage.ts';

test('an outage is told once: failed() is true at the first failure after a success, answered() at the first success after a failure (property)', () => {
  fc.assert(fc.property(fc.array(fc.boolean(), { maxLength: 60 }), (calls) => {
    const outage = new Outage();
    let down = false;
    for (const ok of calls) {
      const told = ok ? outage.answered() : outage.failed();
      assert.equal(told, ok ? down : !down, `${ok ? 'success' : 'failure'} while ${down ? 'down' : 'up'}`);
      down = !ok;
    }
  }));
  const o = new Outage();
  assert.deepEqual([o.answered(), o.failed(), o.failed(), o.answered(), o.answered()], [false, true, false, true, false]);
});
