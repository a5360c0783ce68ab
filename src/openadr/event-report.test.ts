import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testDatabases } from '../../test/support/databases.ts';
import { migrate } from '../platform/migrate.ts';
import { createObject, searchObjects } from './openadr-repository.ts';
import { reportEventDelivery } from './event-report.ts';

for (const target of testDatabases()) {
  describe(`the fleet reports what it delivered during an event (${target.name})`, () => {
    it('one USAGE value per event interval, in kWh from the telemetry, as a REPORT of the event', async () => {
      const db = await target.open();
      try {
        await migrate(db);
        const prog = await createObject(db, 'PROGRAM', { programName: 'dispatch' });
        const ev = await createObject(db, 'EVENT', {
          programID: prog.id, eventName: 'evening peak', intervalPeriod: { start: '2030-08-01T22:00:00Z', duration: 'PT1H' },
          intervals: [0, 1].map((id) => ({ id, payloads: [{ type: 'DISPATCH_SETPOINT', values: [-4] }] })),
        });
        // two devices: −4 kW for the first hour (sampled each 5 min), −2 kW in the second
        const samples = ['a', 'b'].flatMap((deviceId) => Array.from({ length: 24 }, (_, k) => ({
          deviceId, at: new Date(Date.parse('2030-08-01T22:00:00Z') + k * 300_000).toISOString(), powerKw: k < 12 ? -4 : -2,
        })));
        const report = await reportEventDelivery(db, ev.id, 'gridpulse-fleet', samples);
        assert.equal(report.objectType, 'REPORT');
        assert.equal(report.eventID, ev.id);
        const intervals = (report.resources as Array<{ resourceName: string; intervals: Array<{ id: number; payloads: Array<{ type: string; values: number[] }> }> }>)[0]!;
        assert.equal(intervals.resourceName, 'AGGREGATED_REPORT');
        assert.deepEqual(intervals.intervals.map((i) => [i.id, i.payloads[0]!.type, i.payloads[0]!.values[0]]), [[0, 'USAGE', -8], [1, 'USAGE', -4]]);
        assert.equal((await searchObjects(db, 'REPORT', { eventID: ev.id, skip: 0, limit: 10 })).length, 1);
      } finally {
        await db.close();
      }
    });
  });
}
