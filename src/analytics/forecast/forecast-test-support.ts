import assert from 'node:assert/strict';
import { NAIVE_METHODS } from './scoring.ts';
import { INTENSITY_SERVED_BY_LEAD } from './target-run.ts';
import type { BacktestResult } from './backtest.ts';

/** Per lead bucket: the method INTENSITY_SERVED_BY_LEAD names served every origin, and it is the best of the model and both naive references. */
export function assertServesTheBetter(r: BacktestResult): void {
  for (const [b, c] of r.byLead.entries()) {
    const method = INTENSITY_SERVED_BY_LEAD[b]!;
    assert.equal(c.servedBy[method], r.origins, `${c.lead}: served by ${method}`);
    assert.equal(c.mapePct.served, c.mapePct[method], c.lead);
    const others = (['model', ...NAIVE_METHODS] as const).filter((m) => m !== method);
    for (const m of others) assert.ok(c.mapePct[method]! < c.mapePct[m]!, `${c.lead}: ${method} ${c.mapePct[method]} must beat ${m} ${c.mapePct[m]}`);
  }
}
