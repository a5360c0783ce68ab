import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { testDatabases } from '../support/databases.ts';
import { attachMetrics } from '../../src/platform/metrics.ts';
import { implausibility, POWER_SLACK_KW, POWER_TOLERANCE } from '../../src/fleet/telemetry-check.ts';
import { httpFallbackSinks } from '../../src/fleet/gateway/ingest-writer.ts';
import { openFleetApp, provision, type FleetTestApp } from './fleet-support.ts';

const metric = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

describe('telemetry plausibility rule', () => {
  it('power within max × 1.1 + 0.1 kW in its direction, a version issued: plausible, whatever the SoC; beyond either: implausible, by rule (fast-check)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 500 }).map((x) => x / 10), fc.integer({ min: 1, max: 500 }).map((x) => x / 10),
      fc.integer({ min: 0, max: 50 }), fc.double({ min: -1, max: 1, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), fc.integer({ min: 0, max: 60 }),
      (maxChargeKw, maxDischargeKw, issuedVersion, power, socPct, version) => {
        const d = { maxChargeKw, maxDischargeKw, issuedVersion };
        const limit = power >= 0 ? maxChargeKw : maxDischargeKw;
        const powerKw = power * limit * 1.5; // up to 1.5 × the rating, either way
        const reading = { powerKw, socPct, scheduleVersion: version }; // any SoC the schema takes
        const got = implausibility(reading, d)?.rule ?? null;
        const want = Math.abs(powerKw) > limit * POWER_TOLERANCE + POWER_SLACK_KW ? 'power'
          : version > issuedVersion ? 'schedule_version' : null;
        assert.equal(got, want);
      }), { numRuns: 500 });
    const d = { maxChargeKw: 5, maxDischargeKw: 3, issuedVersion: 2 };
    assert.equal(implausibility({ powerKw: 5.6, scheduleVersion: 2 }, d), null, 'charging at 5 × 1.1 + 0.1 kW is the edge, inside');
    assert.equal(implausibility({ powerKw: -3.5, scheduleVersion: 0 }, d)?.rule, 'power', 'discharging is checked against maxDischargeKw');
    assert.equal(implausibility({ powerKw: 0, scheduleVersion: 3 }, d)?.rule, 'schedule_version', 'a version never issued');
  });
});

for (const target of testDatabases()) {
  describe(`implausible telemetry over HTTP on ${target.name}`, () => {
    let t: FleetTestApp;
    before(async () => { t = await openFleetApp(target); attachMetrics(t.app.metrics, t.db); });
    after(async () => { await t.app.close(); await t.db.close(); });

    it('is counted in the answer and /metrics by rule, kept out of the device\'s reported SoC; a SoC below the operating window is the device\'s real state and applied', async () => {
      const d = await provision(t, { id: 'plaus-http', maxChargeKw: 5, maxDischargeKw: 5, minSocPct: 10, maxSocPct: 90 });
      const reading = (seq: number, minutesAgo: number, socPct: number, powerKw: number, scheduleVersion = 0) => ({
        schema: 'gridpulse.telemetry/1', deviceId: d.id, at: new Date(t.clock.now() - minutesAgo * 60_000).toISOString(), seq, socPct, powerKw, scheduleVersion, mode: 'idle' });
      const scrape = () => t.app.metrics.render();
      const before = await scrape();
      const res = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/telemetry`, headers: d.headers,
        payload: [reading(1, 4, 50, 1), reading(2, 3, 70, 12), reading(3, 2, 60, 0, 1)] });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { applied: 1, stale: 0, unknown: 0, outOfWindow: 0, implausible: 2 });
      const dev = (await t.app.inject({ url: `/api/v1/devices/${d.id}`, headers: t.operator })).json<{ reported: { socPct: number; powerKw: number } }>();
      assert.deepEqual({ soc: dev.reported.socPct, power: dev.reported.powerKw }, { soc: 50, power: 1 });
      const after = await scrape();
      for (const [rule, n] of [['power', 1], ['schedule_version', 1]] as const) {
        const series = `gridpulse_fleet_telemetry_implausible_total{rule="${rule}"}`;
        assert.equal(metric(after, series) - metric(before, series), n, rule);
      }
      // drained below its 10 % minimum (an outage): the schedule checks must plan from 3 %, not from the 50 % before
      const low = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/telemetry`, headers: d.headers, payload: [reading(5, 0.5, 3, 0)] });
      assert.deepEqual(low.json(), { applied: 1, stale: 0, unknown: 0, outOfWindow: 0, implausible: 0 });
      const drained = (await t.app.inject({ url: `/api/v1/devices/${d.id}`, headers: t.operator })).json<{ reported: { socPct: number } }>();
      assert.equal(drained.reported.socPct, 3);
    });
  
    it('the tester\'s repro: 1, 50, 1 kW from a 5 kW device; the 50 is stored flagged "power" and inflates neither the device series nor fleet history', async () => {
      // the production wiring of the HTTP fallback (cli/gateway-command.ts): the series stored by the gateway's store
      const s = await openFleetApp(target, (db, clock) => httpFallbackSinks(db, () => new Date(clock.now())));
      try {
        const d = await provision(s, { id: 'plaus-repro', capacityKwh: 10, maxChargeKw: 5, maxDischargeKw: 5 });
        const t0 = s.clock.now() - 30 * 60_000;
        const reading = (seq: number, powerKw: number) => ({
          schema: 'gridpulse.telemetry/1', deviceId: d.id, at: new Date(t0 + seq * 60_000).toISOString(), seq, socPct: 50, powerKw, scheduleVersion: 0, mode: 'charge' });
        const res = await s.app.inject({ method: 'POST', url: `/api/v1/devices/${d.id}/telemetry`, headers: d.headers, payload: [reading(1, 1), reading(2, 50), reading(3, 1)] });
        assert.deepEqual(res.json(), { applied: 1, stale: 1, unknown: 0, outOfWindow: 0, implausible: 1 });
        const raw = await s.db.query<{ seq: string | number; power_kw: number; implausible: string | null }>('SELECT seq, power_kw, implausible FROM device_telemetry WHERE device_id = $1 ORDER BY seq', [d.id]);
        assert.deepEqual(raw.map((r) => [Number(r.seq), Number(r.power_kw), r.implausible]), [[1, 1, null], [2, 50, 'power'], [3, 1, null]], 'the raw record kept, with its verdict');
        const window = `from=${encodeURIComponent(new Date(t0 - 60 * 60_000).toISOString())}&to=${encodeURIComponent(new Date(s.clock.now()).toISOString())}&bucket=60`;
        const series = (await s.app.inject({ url: `/api/v1/fleet/devices/${d.id}/telemetry?${window}`, headers: s.operator })).json<{ data: Array<{ powerKw: number; samples: number }> }>();
        // one hour bucket holds the three readings (the clock stands on the hour): the mean of the two plausible ones, not 17.33
        assert.deepEqual(series.data.map((p) => ({ powerKw: p.powerKw, samples: p.samples })), [{ powerKw: 1, samples: 2 }]);
        const history = (await s.app.inject({ url: `/api/v1/fleet/history?${window}`, headers: s.operator })).json<{ data: Array<{ powerKw: number | null; devices: number }> }>();
        assert.deepEqual(history.data.map((p) => ({ powerKw: p.powerKw, devices: p.devices })), [{ powerKw: 1, devices: 1 }], 'fleet power is the plausible 1 kW');
      } finally {
        await s.app.close();
        await s.db.close();
      }
    });
  });
}
