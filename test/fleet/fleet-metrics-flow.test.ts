import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../support/databases.ts';
import { attachMetrics } from '../../src/platform/metrics.ts';
import { fleetMetrics } from '../../src/fleet/fleet-metrics.ts';
import { applyAcks } from '../../src/fleet/ledger.ts';
import { runRollouts } from '../../src/fleet/rollouts.ts';
import { ack, openFleetApp, provision, reportSoc, type FleetTestApp } from './fleet-support.ts';

/**
 * The fleet's metrics move with the events they count (issue 16), scraped from the app's registry as Prometheus
 * would: versions issued (by source) and published, rollouts by state, and the ledger's ack latency.
 */
const metric = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

for (const target of testDatabases()) {
  describe(`fleet metrics move with the fleet on ${target.name}`, () => {
    let t: FleetTestApp;
    const scrape = () => t.app.metrics.render();
    before(async () => {
      t = await openFleetApp(target);
      attachMetrics(t.app.metrics, t.db); // as `gridpulse web` / `start` do (src/cli/main.ts)
      fleetMetrics(t.app.metrics, t.db, t.clock.now);
    });
    after(async () => { await t.app.close(); await t.db.close(); });

    it('a device schedule counts one version issued by an operator and one published', async () => {
      const d = await provision(t, { id: 'met-one' });
      await reportSoc(t, d, 50);
      const before = await scrape();
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'idle' }] } });
      assert.equal(res.statusCode, 201, res.body);
      const after = await scrape();
      assert.equal(metric(after, 'gridpulse_fleet_versions_issued_total{source="operator"}') - metric(before, 'gridpulse_fleet_versions_issued_total{source="operator"}'), 1);
      assert.equal(metric(after, 'gridpulse_fleet_versions_published_total') - metric(before, 'gridpulse_fleet_versions_published_total'), 1);
      // a refused schedule (over the device's power) issues and publishes nothing
      const refused = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'charge', powerKw: 50 }] } });
      assert.equal(refused.statusCode, 422, refused.body);
      const later = await scrape();
      assert.equal(metric(later, 'gridpulse_fleet_versions_issued_total{source="operator"}'), metric(after, 'gridpulse_fleet_versions_issued_total{source="operator"}'));
    });

    it('the ledger reports each version\'s seconds from publication to its first ack (what the gateway observes), once per version', async () => {
      const d = await provision(t, { id: 'met-lat' });
      await reportSoc(t, d, 50);
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { deviceId: d.id, intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'idle' }] } });
      const { version } = res.json<{ version: number }>();
      t.clock.advance(2_500); // published at the clock's time; acknowledged 2.5 s later
      const first = await applyAcks(t.db, [ack(d.id, version, 'acknowledged', new Date(t.clock.now()).toISOString(), 1)], new Date(t.clock.now()));
      assert.deepEqual(first.ackLatencySeconds, [2.5]);
      t.clock.advance(1_000);
      const second = await applyAcks(t.db, [ack(d.id, version, 'executing', new Date(t.clock.now()).toISOString(), 2)], new Date(t.clock.now()));
      assert.equal(second.applied, 1);
      assert.deepEqual(second.ackLatencySeconds, [], 'a later state of an acknowledged version is not a delivery');
    });

    it('rollouts by state follow a rollout from running to cancelled; its versions count as issued by a rollout', async () => {
      const devices = [];
      for (let i = 0; i < 3; i++) {
        const d = await provision(t, { id: `met-ro-${i}` });
        await reportSoc(t, d, 50);
        devices.push(d);
      }
      const g = await t.app.inject({ method: 'POST', url: '/api/v1/device-groups', headers: t.operator, payload: { name: 'met-ro', deviceIds: devices.map((d) => d.id) } });
      const before = await scrape();
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/schedules', headers: t.operator,
        payload: { groupId: g.json<{ id: string }>().id, intervals: [{ start: t.clock.at(5), end: t.clock.at(65), action: 'idle' }], rollout: { maxPerMinute: 60 } } });
      assert.equal(res.statusCode, 202, res.body);
      const { rolloutId } = res.json<{ rolloutId: string }>();
      assert.equal(await t.firstRound(rolloutId), 1);
      t.clock.advance(1_000);
      assert.equal(await runRollouts(t.db, t.bus, t.s), 1, 'one more a second at 60 a minute');
      const running = await scrape();
      assert.equal(metric(running, 'gridpulse_fleet_rollouts{state="running"}') - metric(before, 'gridpulse_fleet_rollouts{state="running"}'), 1);
      assert.equal(metric(running, 'gridpulse_fleet_versions_issued_total{source="rollout"}') - metric(before, 'gridpulse_fleet_versions_issued_total{source="rollout"}'), 2);
      assert.equal(metric(running, 'gridpulse_fleet_versions_published_total') - metric(before, 'gridpulse_fleet_versions_published_total'), 2);
      assert.equal((await t.app.inject({ method: 'POST', url: `/api/v1/rollouts/${rolloutId}/cancel`, headers: t.operator })).statusCode, 200);
      const cancelled = await scrape();
      assert.equal(metric(cancelled, 'gridpulse_fleet_rollouts{state="running"}'), metric(before, 'gridpulse_fleet_rollouts{state="running"}'));
      assert.equal(metric(cancelled, 'gridpulse_fleet_rollouts{state="cancelled"}') - metric(before, 'gridpulse_fleet_rollouts{state="cancelled"}'), 1);
      for (const state of ['completed', 'aborted']) assert.match(cancelled, new RegExp(`^gridpulse_fleet_rollouts\\{state="${state}"\\} \\d+$`, 'm'), `${state} is exported (0 when none)`);
    });
  });
}
