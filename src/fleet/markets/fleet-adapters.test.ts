import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { testDatabases } from '../../../test/support/databases.ts';
import { migrate } from '../../platform/migrate.ts';
import { createDevice, deviceInput } from '../device-repository.ts';
import { applyStatus, applyTelemetryLatest } from '../ledger.ts';
import { storeBatch, storeTelemetry } from '../gateway/ingest-writer.ts';
import { ledgerSink } from '../bus/device-bus.ts';
import { RecordingFleetBus } from '../testing/recording-bus.ts';
import type { TelemetryMessage } from '../messages.ts';
import { fleetDeviceStates, fleetScheduleSink, telemetrySamples } from './fleet-adapters.ts';
import { hourStarts } from './flexibility.ts';
import { SimulatedDayAheadMarket } from './market-adapter.ts';
import { runDayAhead, settleRun } from './market-run.ts';
import { totalDeliveryRatio } from './delivery.ts';

const HOUR = 3_600_000;

for (const target of testDatabases()) {
  describe(`markets on the fleet's own devices, schedules and telemetry (${target.name})`, () => {
    it('awards become schedule versions of the fleet\'s devices; delivery is measured from device_telemetry', async () => {
      const db = await target.open();
      try {
        await migrate(db);
        const now = Date.now();
        const ids = Array.from({ length: 12 }, (_, i) => `mkt-dev-${i}`);
        for (const id of ids) await createDevice(db, deviceInput.parse({ id, name: id }));
        await applyStatus(db, ids.map((deviceId) => ({ schema: 'gridpulse.status/1' as const, deviceId, online: true, at: new Date(now).toISOString() })));
        await applyTelemetryLatest(db, ids.map((deviceId, i) => ({ schema: 'gridpulse.telemetry/1' as const, deviceId, at: new Date(now).toISOString(), seq: 1, socPct: 40 + i * 2, powerKw: 0, scheduleVersion: 0, mode: 'idle' })));
        const states = await fleetDeviceStates(db, now);
        assert.equal(states.filter((s) => s.online).length, 12);
        const dayStart = new Date(Math.ceil(now / HOUR) * HOUR + HOUR);
        const hours = hourStarts(dayStart, 24);
        const prices = new Map(hours.map((h, i) => [h, i < 6 ? 15 : i >= 16 && i < 20 ? 180 : 45]));
        const bus = new RecordingFleetBus();
        const sink = fleetScheduleSink(db, { priority: 10, bus });
        const market = new SimulatedDayAheadMarket(prices);
        const run = await runDayAhead({ db, logger: pino({ level: 'silent' }), market, sink }, { dayStart, devices: states, forecast: prices });
        assert.ok(run.awards.some((a) => a.netMw > 0) && run.awards.some((a) => a.netMw < 0));
        assert.deepEqual(sink.refused.map((r) => r.problem.detail), [], 'the fleet\'s own feasibility check accepts every dispatched schedule');
        const versions = await db.query<{ device_id: string }>('SELECT DISTINCT device_id FROM schedule_versions ORDER BY device_id');
        assert.deepEqual(versions.map((v) => v.device_id), [...run.schedules.keys()].sort());
        assert.ok(bus.published.length >= run.schedules.size);
        // each device executes its schedule exactly, reporting every 5 minutes
        const telemetry: TelemetryMessage[] = [];
        let seq = 2;
        for (const [deviceId, intervals] of run.schedules) {
          for (const iv of intervals) {
            for (let t = Date.parse(iv.start); t < Date.parse(iv.end); t += 300_000) {
              telemetry.push({ schema: 'gridpulse.telemetry/1', deviceId, at: new Date(t).toISOString(), seq: seq++, socPct: 50, powerKw: iv.action === 'discharge' ? -iv.powerKw! : iv.powerKw!, scheduleVersion: 1, mode: iv.action });
            }
          }
        }
        await db.transaction((tx) => storeTelemetry(tx, telemetry));
        const samples = await telemetrySamples(db, dayStart, new Date(dayStart.getTime() + 24 * HOUR));
        assert.equal(samples.length, telemetry.length);
        const { report } = await settleRun({ db, market }, run.runId, samples);
        const ratio = totalDeliveryRatio(report)!;
        assert.ok(ratio > 0.99 && ratio <= 1.0001, `delivered / awarded ${ratio}`);
      } finally {
        await db.close();
      }
    });

    it('metered delivery leaves out an implausible reading: 1, 50, 1 kW from a 5 kW device measure 1 kW', async () => {
      const db = await target.open();
      try {
        await migrate(db);
        await createDevice(db, deviceInput.parse({ id: 'mkt-plaus', name: 'mkt-plaus', maxChargeKw: 5, maxDischargeKw: 5 }));
        const now = new Date();
        const t0 = now.getTime() - 10 * 60_000;
        const telemetry: TelemetryMessage[] = [1, 50, 1].map((powerKw, i) => ({ schema: 'gridpulse.telemetry/1', deviceId: 'mkt-plaus', at: new Date(t0 + i * 60_000).toISOString(), seq: i + 1, socPct: 50, powerKw, scheduleVersion: 0, mode: 'charge' }));
        const stored = await storeBatch(db, { acks: [], telemetry, statuses: [] }, ledgerSink, now);
        assert.equal(stored.telemetryStored, 3);
        assert.deepEqual(stored.implausible.map((i) => [i.seq, i.rule]), [[2, 'power']]);
        const samples = await telemetrySamples(db, new Date(t0 - HOUR), now, ['mkt-plaus']);
        assert.deepEqual(samples.map((x) => x.powerKw), [1, 1], 'the 50 kW reading is no measurement');
        assert.deepEqual((await telemetrySamples(db, new Date(t0 - HOUR), now)).filter((x) => x.deviceId === 'mkt-plaus').map((x) => x.powerKw), [1, 1]);
      } finally {
        await db.close();
      }
    });
  });
}
