import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import { Metrics } from '../platform/metrics.ts';
import { createDevice, deviceInput, HEARTBEAT_STALE_MS } from './device-repository.ts';
import { fleetMetrics, gatewayMetrics } from './fleet-metrics.ts';

const value = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

for (const target of testDatabases()) {
  describe(`fleet metrics on ${target.name}`, () => {
    it('counts registered devices and the online ones by the heartbeat rule; a revoked device counts in neither', async () => {
      const db = await target.open();
      try {
        await migrate(db);
        const now = Date.parse('2026-06-01T12:00:00Z');
        for (const id of ['m-fresh', 'm-stale', 'm-off', 'm-revoked', 'm-never']) await createDevice(db, deviceInput.parse({ id, name: id }));
        const at = (ms: number) => new Date(now - ms).toISOString();
        await db.query('UPDATE devices SET online = true, last_seen_at = $2 WHERE id = $1', ['m-fresh', at(HEARTBEAT_STALE_MS - 1000)]);
        await db.query('UPDATE devices SET online = true, last_seen_at = $2 WHERE id = $1', ['m-stale', at(HEARTBEAT_STALE_MS + 1000)]);
        await db.query('UPDATE devices SET online = false, last_seen_at = $2 WHERE id = $1', ['m-off', at(1000)]);
        await db.query('UPDATE devices SET online = true, last_seen_at = $2, revoked_at = $2 WHERE id = $1', ['m-revoked', at(1000)]);
        const metrics = new Metrics({ processMetrics: false });
        fleetMetrics(metrics, db, () => now);
        const text = await metrics.render();
        assert.equal(value(text, 'gridpulse_fleet_devices'), 4);
        assert.equal(value(text, 'gridpulse_fleet_devices_online'), 1);
        assert.equal(value(text, 'gridpulse_fleet_devices_never_seen'), 1, 'm-never: provisioned, never heard from (not offline)');
      } finally {
        await db.close();
      }
    });

    it('leaves the device gauges absent, not 0, while the database cannot be read (and before it first could)', async () => {
      const db = await target.open();
      let open = true;
      try {
        await migrate(db);
        await createDevice(db, deviceInput.parse({ id: 'm-one', name: 'one' }));
        const metrics = new Metrics({ processMetrics: false });
        fleetMetrics(metrics, db);
        assert.equal(value(await metrics.render(), 'gridpulse_fleet_devices'), 1);
        await db.close();
        open = false;
        const text = await metrics.render();
        for (const name of ['gridpulse_fleet_devices', 'gridpulse_fleet_devices_online', 'gridpulse_fleet_devices_never_seen', 'gridpulse_fleet_rollouts']) {
          assert.doesNotMatch(text, new RegExp(`^${name}[{ ]`, 'm'), `${name} has no sample during the outage`);
        }
        assert.equal(value(text, 'gridpulse_metrics_collector_failures_total\\{collector="fleet"\\}'), 1);
        // a gateway started while the database is down exports no device count either
        const fresh = new Metrics({ processMetrics: false });
        fleetMetrics(fresh, db);
        assert.doesNotMatch(await fresh.render(), /^gridpulse_fleet_devices(_online|_never_seen)? /m);
      } finally {
        if (open) await db.close();
      }
    });
  });
}

describe('gateway metrics', () => {
  it('counters follow the gateway running totals across scrapes, never going back', async () => {
    const stats = { received: 0, batches: 0, invalid: 0, retries: 0, acksStored: 0, acksDuplicate: 0, telemetryStored: 0, telemetryDuplicate: 0, telemetryOutOfWindow: 0, acksOutOfWindow: 0, statusesOutOfWindow: 0, oversized: 0, statuses: 0, fromRevoked: 0 };
    const metrics = new Metrics({ processMetrics: false });
    gatewayMetrics(metrics, () => ({ ...stats }));
    Object.assign(stats, { batches: 2, acksStored: 5, acksDuplicate: 1, retries: 1 });
    let text = await metrics.render();
    assert.equal(value(text, 'gridpulse_gateway_acks_total\\{result="stored"\\}'), 5);
    Object.assign(stats, { batches: 3, acksStored: 9, invalid: 2, acksOutOfWindow: 4 });
    text = await metrics.render();
    assert.equal(value(text, 'gridpulse_gateway_acks_total\\{result="out_of_window"\\}'), 4, 'acks refused for their at are counted');
    assert.equal(value(text, 'gridpulse_gateway_acks_total\\{result="stored"\\}'), 9);
    assert.equal(value(text, 'gridpulse_gateway_acks_total\\{result="duplicate"\\}'), 1);
    assert.equal(value(text, 'gridpulse_gateway_batches_total'), 3);
    assert.equal(value(text, 'gridpulse_gateway_retries_total'), 1);
    assert.doesNotMatch(text, /gridpulse_gateway_invalid_total/, 'dropped messages are counted once, by reason, in gateway.ts');
  });
});
