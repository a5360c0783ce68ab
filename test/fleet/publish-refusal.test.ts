import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { generate, parser, type IPublishPacket, type Packet } from 'mqtt-packet';
import { pino } from 'pino';
import { testDatabases } from '../support/databases.ts';
import { testBrokers } from '../support/fleet-brokers.ts';
import { attachMetrics } from '../../src/platform/metrics.ts';
import { fleetEventMetrics } from '../../src/fleet/fleet-metrics.ts';
import { MqttFleetBus } from '../../src/fleet/bus/mqtt-fleet-bus.ts';
import { PublishRefusedError } from '../../src/fleet/bus/publish-refusal.ts';
import { publishVersions, republishDue } from '../../src/fleet/distribution.ts';
import { issueVersions, getVersion } from '../../src/fleet/schedule-versions.ts';
import { MAX_PACKET_BYTES, deviceTopic, type ScheduleInterval } from '../../src/fleet/messages.ts';
import { openFleetApp, provision, reportSoc, type FleetTestApp } from './fleet-support.ts';

const quiet = pino({ level: 'silent' });

const metric = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
};

/**
 * A minimal MQTT 5 broker that accepts every connection and answers every QoS 1 PUBLISH with a PUBACK of `reasonCode`
 * (0x87: not authorized, as Mosquitto does for a publish its ACL denies); counts the PUBLISH packets it got.
 */
async function refusingBroker(reasonCode: number): Promise<{ url: string; publishes: IPublishPacket[]; close(): Promise<void> }> {
  const publishes: IPublishPacket[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const p = parser({ protocolVersion: 5 });
    const send = (packet: Packet) => socket.write(generate(packet, { protocolVersion: 5 }));
    p.on('packet', (packet: Packet) => {
      if (packet.cmd === 'connect') send({ cmd: 'connack', sessionPresent: false, reasonCode: 0 });
      else if (packet.cmd === 'publish') { publishes.push(packet); send({ cmd: 'puback', messageId: packet.messageId!, reasonCode }); }
      else if (packet.cmd === 'pingreq') send({ cmd: 'pingresp' });
      else if (packet.cmd === 'disconnect') socket.end();
    });
    socket.on('data', (d) => p.parse(d));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `mqtt://127.0.0.1:${port}`, publishes,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

for (const target of testDatabases()) {
  describe(`schedules the bus cannot carry fail visibly on ${target.name}`, () => {
    let t: FleetTestApp;
    before(async () => {
      t = await openFleetApp(target);
      attachMetrics(t.app.metrics, t.db);
      fleetEventMetrics(t.app.metrics);
    });
    after(async () => { await t.app.close(); await t.db.close(); });

    const issue = async (deviceIds: string[], intervals: ScheduleInterval[]) => {
      const r = await t.db.transaction((tx) => issueVersions(tx, { deviceIds, intervals, priority: 10, now: t.clock.now(), republishMs: t.s.republishMs }));
      assert.deepEqual(r.refused, []);
      return r.messages;
    };
    const refusedTotal = async (reason: string) => metric(await t.app.metrics.render(), `gridpulse_fleet_versions_refused_total{reason="${reason}"}`);

    it('a schedule over the broker\'s packet limit is refused before publishing on the embedded broker: its version failed with the reason, counted, never re-published; the other devices\' versions are delivered', async () => {
      const small = await provision(t, { id: 'ref-small' });
      const big = await provision(t, { id: 'ref-big' });
      await reportSoc(t, small, 50);
      await reportSoc(t, big, 50);
      const [small1] = await issue([small.id], [{ start: t.clock.at(5), end: t.clock.at(65), action: 'idle' }]);
      // a version accepted through the API never gets this large (checkScheduleSize; instants are stored canonical):
      // this is a message from any other path, 2,880 intervals whose instants carry 200 fraction digits (about 1.3 MB)
      const [issued] = await issue([big.id], [{ start: t.clock.at(5), end: t.clock.at(65), action: 'idle' }]);
      const zeros = '0'.repeat(200);
      const at = (m: number) => `${t.clock.at(5 + m).slice(0, 19)}.${zeros}Z`;
      const big1 = { ...issued!, intervals: Array.from({ length: 2_880 }, (_, i): ScheduleInterval => ({ start: at(i), end: at(i + 1), action: 'idle' })) };
      assert.ok(JSON.stringify(big1).length > MAX_PACKET_BYTES);

      const [aedes] = testBrokers();
      const broker = await aedes!.start();
      await broker.provision([{ deviceId: small.id, password: small.mqttPassword }, { deviceId: big.id, password: big.mqttPassword }]);
      const spy = await broker.spy();
      const bus = await MqttFleetBus.connect(broker.url, broker.gateway, quiet);
      try {
        const before = await refusedTotal('too_large');
        const sent = await publishVersions(t.db, bus, [big1!, small1!], t.s, quiet);
        assert.equal(sent, 1, 'the small version was published');
        const failed = (await getVersion(t.db, big.id, big1!.version))!;
        assert.equal(failed.state, 'failed');
        assert.match(failed.reason ?? '', /^publish refused: schedule message of \d+ bytes over the broker's packet limit of 1048576 bytes/);
        assert.equal((await getVersion(t.db, small.id, small1!.version))!.state, 'sent');
        assert.equal(await refusedTotal('too_large') - before, 1);
        // the publisher kept its connection (the broker drops a client sending an oversized packet) and publishes on
        t.clock.advance(t.s.republishMs + 1_000);
        await republishDue(t.db, bus, t.s, quiet);
        await new Promise((r) => setTimeout(r, 100));
        const topics = spy.seen.map((m) => m.topic);
        assert.equal(topics.filter((x) => x === deviceTopic(big.id, 'schedule')).length, 0, 'the oversized version is never sent');
        assert.equal(topics.filter((x) => x === deviceTopic(small.id, 'schedule')).length, 2, 'the small version: published, then re-published when due');
        assert.equal((await getVersion(t.db, big.id, big1!.version))!.state, 'failed');
      } finally {
        await spy.close();
        await bus.close();
        await broker.close();
      }
    });

    it('a publish the broker refuses with MQTT 5 reason 0x87 (not authorized) is not retried: the version failed with the reason, counted', async () => {
      const d = await provision(t, { id: 'ref-denied' });
      await reportSoc(t, d, 50);
      const [v] = await issue([d.id], [{ start: t.clock.at(5), end: t.clock.at(65), action: 'idle' }]);
      const broker = await refusingBroker(0x87);
      const bus = await MqttFleetBus.connect(broker.url, undefined, quiet);
      try {
        await assert.rejects(bus.publishSchedule(v!), (err: unknown) => err instanceof PublishRefusedError && err.reason === 'not_authorized' && /0x87/.test(err.message));
        const before = await refusedTotal('not_authorized');
        assert.equal(await publishVersions(t.db, bus, [v!], t.s, quiet), 0);
        const stored = (await getVersion(t.db, d.id, v!.version))!;
        assert.equal(stored.state, 'failed');
        assert.match(stored.reason ?? '', /^publish refused: the broker refused the publish: not authorized \(MQTT 5 reason 0x87\)/);
        assert.equal(await refusedTotal('not_authorized') - before, 1);
        const mine = () => broker.publishes.filter((p) => p.topic === deviceTopic(d.id, 'schedule')).length;
        assert.equal(mine(), 2, 'sent once by hand, once by publishVersions');
        t.clock.advance(t.s.maxRepublishMs * 4);
        await republishDue(t.db, bus, t.s, quiet);
        assert.equal(mine(), 2, 'not re-published');
      } finally {
        await bus.close();
        await broker.close();
      }
    });
  });
}
