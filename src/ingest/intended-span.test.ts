import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import type { Db } from '../platform/db.ts';
import { getBa } from '../grid/ba-repository.ts';
import { loadSimulatedGrid } from './simulated-grid.ts';
import { findGaps } from './gaps.ts';
import { intendedStart, recordedStart } from './intended-span.ts';
import { enqueueGaps, processBackfills } from './backfill.ts';

const logger = pino({ level: 'silent' });
const T0 = Date.parse('2025-09-01T00:00Z');
const at = (h: number) => new Date(T0 + h * 3_600_000);

for (const target of testDatabases()) {
  describe(`the store's intended span on ${target.name}`, () => {
    let db: Db;
    before(async () => { db = await target.open(); await migrate(db); });
    after(async () => { await db.close(); });

    it('is recorded by the first start only: a restart a day later reads the first start\'s span back', async () => {
      assert.equal(await recordedStart(db, 'simulated'), undefined);
      const first = await intendedStart(db, 'simulated', at(71), 2);
      assert.equal(first.toISOString(), at(71 - 48).toISOString());
      assert.equal((await intendedStart(db, 'simulated', at(95), 2)).toISOString(), first.toISOString());
      assert.equal((await recordedStart(db, 'simulated'))?.toISOString(), first.toISOString());
      assert.equal(await recordedStart(db, 'eia'), undefined, 'each source has its own');
    });

    it('makes gap detection reach back to it: a route whose first stored hour is later has a gap from the intended start, which backfill fills', async () => {
      const ciso = (await getBa(db, 'CISO'))!;
      // the intended start is at(23) (above); a fill cut short stored CISO only from at(40)
      await loadSimulatedGrid({ db, logger }, [ciso], at(40), 32);
      const gaps = (await findGaps(db)).filter((g) => g.ba === 'CISO');
      assert.deepEqual(gaps.map((g) => `${g.route} ${g.from.toISOString()} ${g.to.toISOString()} ${g.hours}`).sort(),
        ['fuel', 'region'].map((r) => `${r} ${at(23).toISOString()} ${at(39).toISOString()} 17`));
      // within a window, only the part inside it
      const since = (await findGaps(db, { since: at(30) })).filter((g) => g.ba === 'CISO');
      assert.deepEqual(since.map((g) => `${g.from.toISOString()} ${g.hours}`), [`${at(30).toISOString()} 10`, `${at(30).toISOString()} 10`]);
      assert.deepEqual((await findGaps(db, { until: at(20) })).filter((g) => g.ba === 'CISO'), [], 'nothing before the intended start is a gap');
      await enqueueGaps(db, gaps, { eia: false });
      const worked = await processBackfills({ db, logger }, 10);
      assert.equal(worked.failed, 0);
      assert.deepEqual((await findGaps(db)).filter((g) => g.ba === 'CISO'), []);
      const [demand] = await db.query<{ first: Date | string; n: number }>(
        `SELECT min(o.ts) AS first, count(*)::integer AS n FROM observations o JOIN series s ON s.id = o.series_id WHERE s.key = 'CISO.demand'`);
      assert.equal(new Date(demand!.first).toISOString(), at(23).toISOString());
      assert.equal(demand!.n, 72 - 23);
    });
  });
}
