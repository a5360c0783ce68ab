import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { simulateBa } from './simulated-grid.ts';

const ciso = { code: 'CISO', name: 'CAISO', timeZone: 'America/Los_Angeles', region: 'CAL', interconnection: 'western', generationOnly: false, active: true, retiredOn: null };

describe('simulated grid', () => {
  it('is deterministic, balances fuels to net generation, and puts solar in local daylight only', () => {
    const from = new Date('2025-06-01T00:00Z');
    const a = simulateBa(ciso, from, 48);
    assert.deepEqual(a, simulateBa(ciso, from, 48));
    for (let h = 0; h < 48; h++) {
      const ts = from.getTime() + h * 3_600_000;
      const at = a.filter((p) => p.ts.getTime() === ts);
      const ng = at.find((p) => p.route === 'region' && p.code === 'NG')!.value!;
      const fuels = at.filter((p) => p.route === 'fuel').reduce((s, p) => s + p.value!, 0);
      assert.equal(fuels, ng);
      const lh = Number(new Intl.DateTimeFormat('en-US', { timeZone: 'America/Los_Angeles', hour: 'numeric', hourCycle: 'h23' }).format(new Date(ts)));
      const sun = at.find((p) => p.code === 'SUN')!.value!;
      if (lh < 6 || lh > 19) assert.equal(sun, 0, `solar at local ${lh}:00`);
      if (lh === 12) assert.ok(sun > 0);
    }
  });

  it('gives generation-only BAs no demand or forecast', () => {
    const pts = simulateBa({ ...ciso, code: 'AVRN', generationOnly: true }, new Date('2025-06-01T00:00Z'), 24);
    assert.equal(pts.filter((p) => p.code === 'D' || p.code === 'DF').length, 0);
  });
});
