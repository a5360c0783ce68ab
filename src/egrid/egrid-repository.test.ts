import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { aggregatesColumns, generatorsColumns, getPlant, listAggregates, listGenerators, plantHistory, plantsColumns, unitsColumns } from './egrid-repository.ts';

for (const target of testDatabases()) {
  describe(`eGRID store on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    it('maps every column of every eGRID table, and only those', async () => {
      // units and generators end with `occurrence` (0027), worked out on import rather than read from the file
      const tables: [string, readonly string[]][] = [['egrid_plants', plantsColumns], ['egrid_units', [...unitsColumns, 'occurrence']],
        ['egrid_generators', [...generatorsColumns, 'occurrence']], ['egrid_aggregates', aggregatesColumns]];
      for (const [table, columns] of tables) {
        const rows = await db.query<{ column_name: string }>(
          `SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema() ORDER BY ordinal_position`, [table]);
        assert.deepEqual(rows.map((r) => r.column_name), [...columns], table);
      }
    });

    it('reads plants, generators and aggregates back by year as camelCase rows with their units', async () => {
      await db.query(`INSERT INTO egrid_plants (data_year, orispl, plant_name, nameplate_mw, net_generation_mwh, capacity_factor, extra, not_calculated)
        VALUES (2022, 7, 'A', 12.5, -3.25, 0.19178, '{"PSFLAG": "Yes"}', '{UNHGSRC}'), (2021, 7, 'A (old)', 12, 1, null, '{}', '{}')`);
      await db.query(`INSERT INTO egrid_generators (data_year, orispl, generator_id, nameplate_mw) VALUES (2022, 7, 'NA', 2), (2022, 7, 'G1', 3)`);
      await db.query(`INSERT INTO egrid_aggregates (data_year, level, code, co2_rate_lb_per_mwh, measures) VALUES (2022, 'us', 'US', 823.149, '{"NBCO2": 1200.5}')`);
      const plant = await getPlant(db, 2022, 7);
      assert.equal(plant?.netGenerationMwh, -3.25);
      assert.equal(plant?.capacityFactor, 0.19178);
      assert.deepEqual(plant?.extra, { PSFLAG: 'Yes' });
      assert.deepEqual(plant?.notCalculated, ['UNHGSRC']);
      assert.deepEqual((await plantHistory(db, 7)).map((p) => p.dataYear), [2021, 2022]);
      assert.deepEqual((await listGenerators(db, 2022, 7)).map((g) => g.generatorId), ['G1', 'NA']);
      const [us] = await listAggregates(db, 2022, 'us');
      assert.equal(us?.co2RateLbPerMwh, 823.149);
      assert.equal(us?.measures.NBCO2, 1200.5);
    });
  });
}
