import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { deviceTopic, sharedSubscription, TOPIC_ROOT } from '../messages.ts';
import { mayPublish, mayReceive, maySubscribe } from './topic-rules.ts';

const deviceId = fc.stringMatching(/^[a-z0-9][a-z0-9-]{2,20}$/);
const leaf = fc.constantFrom('schedule', 'ack', 'telemetry', 'status') as fc.Arbitrary<'schedule' | 'ack' | 'telemetry' | 'status'>;

describe('device bus topic rules (the embedded broker\'s ACL)', () => {
  it('a device may use only its own topics, never another device\'s (fast-check)', () => {
    fc.assert(fc.property(deviceId, deviceId, leaf, (me, other, l) => {
      fc.pre(me !== other);
      const who = { kind: 'device', deviceId: me } as const;
      assert.equal(mayPublish(who, deviceTopic(other, l)), false);
      assert.equal(maySubscribe(who, deviceTopic(other, l)), false);
      assert.equal(mayReceive(who, deviceTopic(other, l)), false);
      assert.equal(mayPublish(who, deviceTopic(me, l)), l !== 'schedule', 'its own ack, telemetry and status; never a schedule');
      assert.equal(maySubscribe(who, deviceTopic(me, l)), l === 'schedule');
    }));
  });

  it('no wildcard, shared subscription or foreign root is open to a device (fast-check)', () => {
    fc.assert(fc.property(deviceId, fc.string(), (me, junk) => {
      const who = { kind: 'device', deviceId: me } as const;
      for (const filter of ['#', `${TOPIC_ROOT}/#`, `${TOPIC_ROOT}/+/schedule`, `${TOPIC_ROOT}/${me}/#`, `${TOPIC_ROOT}/${me}/+`, sharedSubscription('ack'), `$share/x/${deviceTopic(me, 'schedule')}`, junk]) {
        if (filter === deviceTopic(me, 'schedule')) continue;
        assert.equal(maySubscribe(who, filter), false, filter);
      }
    }));
  });

  it('the gateway publishes schedules and subscribes to acks, telemetry and status, nothing else', () => {
    const gw = { kind: 'gateway' } as const;
    assert.equal(mayPublish(gw, deviceTopic('pi-0001', 'schedule')), true);
    for (const l of ['ack', 'telemetry', 'status'] as const) {
      assert.equal(mayPublish(gw, deviceTopic('pi-0001', l)), false, `it never speaks for a device (${l})`);
      assert.equal(maySubscribe(gw, sharedSubscription(l)), true);
      assert.equal(maySubscribe(gw, `${TOPIC_ROOT}/+/${l}`), true);
    }
    for (const filter of ['#', `${TOPIC_ROOT}/#`, `${TOPIC_ROOT}/+/schedule`, '$share/gateway/#', '$share//gridpulse/v1/devices/+/ack', '$SYS/#']) {
      assert.equal(maySubscribe(gw, filter), false, filter);
    }
  });
});
