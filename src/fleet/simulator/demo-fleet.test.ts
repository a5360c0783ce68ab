import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../platform/log.ts';
import { migrate } from '../../platform/migrate.ts';
import { testDatabases } from '../../../test/support/databases.ts';
import { startEmbeddedBroker } from '../bus/embedded-broker.ts';
import { verifyDeviceMqtt } from '../device-credentials.ts';
import { startDemoFleet } from './demo-fleet.ts';

const logger = createLogger('silent');

for (const target of testDatabases()) {
  test(`the demo fleet provisions labelled simulated devices, connects them to the authenticating embedded broker, and reuses them on the next start (${target.name})`, async (t) => {
    const db = await target.open();
    t.after(() => db.close());
    await migrate(db);
    const dataDir = mkdtempSync(join(tmpdir(), 'gp-demo-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', verify: (u, p) => verifyDeviceMqtt(db, u, p), logger });
    t.after(() => broker.close());

    const first = await startDemoFleet({ db, brokerUrl: broker.url, dataDir, devices: 5, logger });
    assert.equal(await first.ready(20_000), 5, 'every demo device passes the broker\'s password check');
    await first.stop();
    const rows = await db.query<{ id: string; name: string }>(`SELECT id, name FROM devices WHERE id LIKE 'sim-demo-%' ORDER BY id`);
    assert.deepEqual(rows.map((r) => r.id), ['sim-demo-01', 'sim-demo-02', 'sim-demo-03', 'sim-demo-04', 'sim-demo-05']);
    assert.ok(rows.every((r) => r.name.includes('SIMULATED')));

    rmSync(join(dataDir, 'demo-fleet.json'));
    const second = await startDemoFleet({ db, brokerUrl: broker.url, dataDir, devices: 5, logger });
    t.after(() => second.stop());
    assert.equal(await second.ready(20_000), 5, 'with its password file lost, the demo fleet gets new passwords and connects');
    assert.equal((await db.query(`SELECT 1 FROM devices WHERE id LIKE 'sim-demo-%'`)).length, 5, 'the same devices, not new ones');
  });
}
