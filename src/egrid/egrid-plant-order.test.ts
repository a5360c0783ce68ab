import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { plantFigures, queryPlants, streamPlants } from './egrid-analytics-repository.ts';
import { insertPlants, plant } from './egrid-test-support.ts';
import type { PlantFigures } from './egrid-rates.ts';

const YEAR = 2016;
const N = 12;

for (const target of testDatabases()) {
  describe(`eGRID plant order on ${target.name}`, () => {
    let db: Db;
    before(async () => {
      db = await target.open();
      await migrate(db);
      // plants without an ORISPL (keyed by their sequence number, migration 0027), all alike in every sort column,
      // stored in the reverse of their sequence: the heap order is not the answer's
      for (let seq = N; seq >= 1; seq--) {
        await insertPlants(db, YEAR, [plant({ orispl: null as unknown as number, plantName: `P${seq}` })], { seq });
      }
      await insertPlants(db, YEAR, [plant({ orispl: 7, plantName: 'With ORISPL' })], { seq: 100 });
    });
    after(async () => { await db.close(); });

    const expected = ['With ORISPL', ...Array.from({ length: N }, (_, i) => `P${i + 1}`)];

    it('pages the plant list in a total order (ties broken by sequence number): every plant once, in the same order at any page size', async () => {
      for (const settings of [[], ['SET LOCAL enable_sort = off'], ['SET LOCAL enable_seqscan = off']]) {
        for (const pageSize of [1, 5, 100]) {
          const names = await db.transaction(async (tx) => {
            for (const set of settings) await tx.query(set);
            const out: Array<string | null> = [];
            for await (const rows of streamPlants(tx, YEAR, {}, 'state', false, pageSize)) out.push(...rows.map((r) => r.plantName));
            return out;
          });
          assert.deepEqual(names, expected, `pages of ${pageSize} with ${settings.join(', ') || 'the default plan'}`);
        }
      }
      const { total, rows } = await queryPlants(db, YEAR, {}, 'capacity', true, 4, 4);
      assert.equal(total, N + 1);
      assert.deepEqual(rows.map((r) => r.plantName), expected.slice(4, 8));
    });

    it('reads the figures of a year in the same order (ORISPL, then sequence number)', async () => {
      const figures: PlantFigures[] = await plantFigures(db, YEAR);
      assert.deepEqual(figures.map((f) => f.plantName), expected);
    });
  });
}
