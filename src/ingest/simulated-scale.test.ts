import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { sharedDataDir, sharedDataTest } from '../../test/support/shared-data.ts';
import { deriveSimulatedScale, renderScaleModule, SCALE_MODULE } from '../../scripts/derive-simulated-scale.ts';
import { openDb } from '../platform/db.ts';
import { migrate } from '../platform/migrate.ts';
import { listBas } from '../grid/ba-repository.ts';
import { SIMULATED_SCALE } from './simulated-scale.ts';

describe('simulated grid scale table', () => {
  it('is what scripts/derive-simulated-scale.ts derives from ../shared/data, byte for byte', sharedDataTest(), () => {
    const derived = deriveSimulatedScale(sharedDataDir);
    assert.deepEqual(SIMULATED_SCALE, derived, 're-run node scripts/derive-simulated-scale.ts');
    assert.equal(readFileSync(SCALE_MODULE, 'utf8'), renderScaleModule(derived));
  });

  it('scales every active US BA of the registry, with its sources, and no Canadian or Mexican BA', async () => {
    const db = await openDb({ dataDir: ':memory:' });
    try {
      await migrate(db);
      const bas = await listBas(db);
      for (const ba of bas) {
        const row = SIMULATED_SCALE[ba.code];
        if (ba.interconnection === 'canada' || ba.interconnection === 'mexico') {
          assert.equal(row, undefined, `${ba.code}: EIA-930 has no demand or generation for it`);
          continue;
        }
        assert.ok(row, `${ba.code} has a row`);
        assert.ok(row.source.length > 0 && row.seasonSource.length > 0, `${ba.code} names its sources`);
        if (!ba.generationOnly && row.demandMean === null) assert.match(row.source, /eGRID/, `${ba.code}: only a plant-scaled BA may lack demand`);
      }
    } finally { await db.close(); }
  });

  it('has consistent rows: peaks at or above means, fuels that add up to about the generation, July = 1', () => {
    for (const [code, row] of Object.entries(SIMULATED_SCALE)) {
      // a BA with demand may generate nothing (Homestead imports all its power); one without must generate
      assert.ok(row.generationMean >= (row.demandMean === null ? 1 : 0) && row.generationPeak >= row.generationMean, `${code} generation`);
      if (row.demandMean !== null) assert.ok(row.demandMean > 0 && row.demandPeak! >= row.demandMean, `${code} demand`);
      const fuels = Object.values(row.fuels).reduce((a, b) => a + b, 0);
      // fuels are means of what each reported (negative OTH, e.g. storage, counted as 0), NG the mean of its own column
      assert.ok(fuels >= 0.8 * row.generationMean && fuels <= 1.25 * row.generationMean, `${code}: fuels ${fuels} vs NG ${row.generationMean}`);
      assert.equal(row.season.length, 12, code);
      assert.equal(row.season[6], 1, `${code}: July is the reference`);
      assert.ok(row.season.every((f) => f > 0.5 && f < 1.5), `${code} season`);
    }
  });
});
