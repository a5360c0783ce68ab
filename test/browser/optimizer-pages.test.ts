import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { testDatabases } from '../support/databases.ts';
import { migrate } from '../../src/platform/migrate.ts';
import { memoryCache } from '../../src/platform/cache.ts';
import { buildApp } from '../../src/app.ts';
import type { Db } from '../../src/platform/db.ts';
import { needs } from './support/availability.ts';

for (const target of testDatabases()) {
  describe(`optimizer pages on ${target.name}`, needs({}), () => {
    let db: Db; let app: FastifyInstance;
    const cache = memoryCache();
    before(async () => {
      db = await target.open(); await migrate(db);
      // no page cache: the test reads the page before and after storing a backtest within its minute
      app = await buildApp({ db, logger: pino({ level: 'silent' }), cache, pageCache: false });
    });
    after(async () => { await app.close(); await cache.close(); await db.close(); });

    it('/optimizer says when no backtest is stored, then server-renders its savings, baselines and the cost–CO2 curve', async () => {
      const empty = await app.inject('/optimizer');
      assert.equal(empty.statusCode, 200);
      assert.match(empty.body, /A stored backtest(<!-- -->)? is not available/);
      const result = {
        hours: 3647, noBattery: { cost: 168.73, co2Kg: 1255.9, throughputKWh: 0 }, rule: { cost: 157.94, co2Kg: 1281.6, throughputKWh: 1293 },
        optimized: { cost: 77.14, co2Kg: 1327.2, throughputKWh: 7263, fallbackHours: 0 }, perfect: { cost: 76.89, co2Kg: 1331.6, throughputKWh: 7270 },
        savingsPct: 54.3, pctOfPerfect: 99.7, intensitySource: 'file', params: { load: 'constant 1 kW' },
        pareto: [{ carbonPrice: 0, cost: 77.14, co2Kg: 1327.2 }, { carbonPrice: 200, cost: 80.42, co2Kg: 1303.7 }],
      };
      await db.query('INSERT INTO optimizer_backtests (params, result) VALUES ($1::text::jsonb, $2::text::jsonb)', [JSON.stringify(result.params), JSON.stringify(result)]);
      const page = await app.inject('/optimizer');
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /54\.3(<!-- -->)? %/);
      assert.match(page.body, /99\.7(<!-- -->)? %/);
      assert.match(page.body, /\$76\.89/);
      assert.match(page.body, /<svg[^>]*aria-label="Cost against CO2/);
      assert.match(page.body, /200(<!-- -->)? \$\/t/);
    });
  });
}
