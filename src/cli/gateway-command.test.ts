import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import { Metrics } from '../platform/metrics.ts';
import { metricsServer } from '../platform/http.ts';
import { gatewayReadiness } from './gateway-command.ts';
import type { Gateway } from '../fleet/gateway/gateway.ts';

/** A gateway whose broker connection the test switches; nothing else of it is used by the readiness. */
function fakeGateway(state: { up: boolean }): Gateway {
  return { clientId: 'gw-test', protocolVersion: 5, connected: () => state.up, stats: () => { throw new Error('unused'); }, stop: async () => {}, crash: () => {} };
}

for (const target of testDatabases()) {
  describe(`gridpulse gateway health on ${target.name}`, () => {
    it('/healthz answers; /readyz is ready with database and broker up, 503 naming the broker (not its password) while it is down', async () => {
      const db = await target.open();
      try {
        await migrate(db);
        const state = { up: true };
        const metrics = new Metrics();
        const app = await metricsServer(metrics, undefined, gatewayReadiness(db, { url: 'mqtt://gw:s3cret@broker.internal:1883', gateway: fakeGateway(state) }, metrics));
        assert.equal((await app.inject('/healthz')).statusCode, 200);
        let res = await app.inject('/readyz');
        assert.equal(res.statusCode, 200);
        assert.deepEqual(Object.keys(res.json().checks).sort(), ['broker', 'database']);
        assert.equal(res.json().status, 'ready');
        state.up = false;
        res = await app.inject('/readyz');
        assert.equal(res.statusCode, 503);
        assert.deepEqual(res.json().failed, ['broker']);
        assert.match(res.json().checks.broker.detail, /broker\.internal:1883/);
        assert.doesNotMatch(res.body, /s3cret/);
        assert.match(await metrics.render(), /gridpulse_dependency_up\{[^}]*dependency="broker"[^}]*\} 0/);
        state.up = true;
        assert.equal((await app.inject('/readyz')).statusCode, 200);
        await app.close();
      } finally {
        await db.close();
      }
    });

    it('/readyz is not ready when migrations are pending, whatever the broker', async () => {
      const db = await target.open();
      try {
        const app = await metricsServer(new Metrics(), undefined, gatewayReadiness(db, { url: 'mqtt://broker:1883', gateway: fakeGateway({ up: true }) }));
        const res = await app.inject('/readyz');
        assert.equal(res.statusCode, 503);
        assert.ok(res.json().failed.includes('database'), res.body);
        await app.close();
      } finally {
        await db.close();
      }
    });
  });
}
