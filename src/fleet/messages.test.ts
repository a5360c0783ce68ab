import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ackMessage, deviceTopic, DEVICE_ID, scheduleMessage, sharedSubscription, statusMessage } from './messages.ts';

describe('device bus messages', () => {
  it('names each device topic under one root, and the gateway shares each leaf', () => {
    assert.equal(deviceTopic('pi-0001', 'schedule'), 'gridpulse/v1/devices/pi-0001/schedule');
    assert.equal(sharedSubscription('ack'), '$share/gateway/gridpulse/v1/devices/+/ack');
  });

  it('accepts only device ids that cannot escape their topic level or broker username (fast-check)', () => {
    fc.assert(fc.property(fc.string(), (id) => {
      if (DEVICE_ID.test(id)) assert.ok(!/[/+#\s$\0]/.test(id) && id.length <= 63, id);
    }));
    for (const bad of ['a/b', '+', '#', 'pi 1', '$SYS', 'PI-1', 'ab']) assert.equal(DEVICE_ID.test(bad), false, bad);
  });

  it('refuses a schedule without a positive integer version or with an unknown action', () => {
    const good = { schema: 'gridpulse.schedule/1', deviceId: 'pi-0001', version: 3, issuedAt: '2026-11-30T12:00:00Z', fallback: 'hold-soc',
      intervals: [{ start: '2026-11-30T13:00:00Z', end: '2026-11-30T14:00:00Z', action: 'charge', powerKw: 5 }] };
    assert.equal(scheduleMessage.safeParse(good).success, true);
    assert.equal(scheduleMessage.safeParse({ ...good, version: 0 }).success, false);
    assert.equal(scheduleMessage.safeParse({ ...good, version: 1.5 }).success, false);
    assert.equal(scheduleMessage.safeParse({ ...good, intervals: [{ ...good.intervals[0], action: 'explode' }] }).success, false);
    assert.equal(ackMessage.safeParse({ schema: 'gridpulse.ack/1', deviceId: 'pi-0001', version: 3, state: 'acknowledged', at: '2026-11-30T12:00:01Z', seq: 0 }).success, true);
    assert.equal(statusMessage.safeParse({ schema: 'gridpulse.status/1', deviceId: 'pi-0001', online: false }).success, true);
  });
});
