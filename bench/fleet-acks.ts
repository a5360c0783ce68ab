import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { MqttClient } from 'mqtt';
import { storeBatch } from '../src/fleet/gateway/ingest-writer.ts';
import { ledgerSink } from '../src/fleet/bus/device-bus.ts';
import { startEmbeddedBroker } from '../src/fleet/bus/embedded-broker.ts';
import { connectMqtt } from '../src/fleet/bus/mqtt-connect.ts';
import { startGateway } from '../src/fleet/gateway/gateway.ts';
import { deviceTopic, type AckMessage } from '../src/fleet/messages.ts';
import { envInt, fmt, openEngineDb, printTable, timed } from './support.ts';

/**
 * Ack ingestion (issue 14: ≥ 20,000 acks/s into the database), against the reference of a raw COPY of the same
 * rows into a bare table in the same run:
 * (1) the gateway's writer (ingest-writer.ts storeBatch: COPY into staging, exactly-once insert into device_acks,
 *     fleet-core's applyAcks in the same transaction) over FLEET_DEVICES × 3 acks in batches of FLEET_BATCH;
 * (2) the same acks end to end: FLEET_PUBLISHERS MQTT clients publish them with QoS 1 through the embedded broker
 *     to a running gateway (PUBACKs held until each batch commits), until the last is stored.
 * PGlite by default; PostgreSQL with DATABASE_URL (the figure that matters).
 */
export async function benchFleetAcks(): Promise<void> {
  const n = envInt('FLEET_DEVICES', 10_000);
  const batch = envInt('FLEET_BATCH', 2_000);
  const publishers = envInt('FLEET_PUBLISHERS', 50);
  const { db, drop } = await openEngineDb('bench_fleet_acks');
  const quiet = pino({ level: 'silent' });
  try {
    await db.query(`INSERT INTO devices (id, name, capacity_kwh, max_charge_kw, max_discharge_kw, mqtt_password_hash)
                    SELECT 'ack-' || lpad(g::text, 6, '0'), 'bench', 10, 5, 5, 'x' FROM generate_series(1, $1::int) g`, [n]);
    // published (sent_at set) as the distribution does: the ledger then reports each first ack's latency (the histogram's input)
    await db.query(`INSERT INTO schedule_versions (device_id, version, priority, intervals, fallback, starts_at, ends_at, issued_at, state, sent_at)
                    SELECT id, 1, 0, '[]'::jsonb, 'hold-soc', now(), now() + interval '1 hour', now(), 'sent', now() FROM devices`);
    const ids = (await db.query<{ id: string }>('SELECT id FROM devices ORDER BY id')).map((r) => r.id);
    const at = Date.now();
    const make = (offset: number): AckMessage[] => {
      const out: AckMessage[] = [];
      let seq = offset;
      for (const state of ['acknowledged', 'executing', 'succeeded'] as const) {
        for (const id of ids) out.push({ schema: 'gridpulse.ack/1', deviceId: id, version: 1, state, at: new Date(at + seq).toISOString(), seq: seq++ });
      }
      return out;
    };
    const acks = make(0);
    const writer = await timed(async () => {
      for (let i = 0; i < acks.length; i += batch) await storeBatch(db, { acks: acks.slice(i, i + batch), telemetry: [], statuses: [] }, ledgerSink);
    });
    // the same writer without the ledger: the log alone (new seqs), to tell the two costs apart
    const logOnly = make(acks.length * 2);
    const noLedger = { applyAcks: async () => undefined, applyStatus: async () => undefined, applyTelemetryLatest: async () => undefined };
    const logWriter = await timed(async () => {
      for (let i = 0; i < logOnly.length; i += batch) await storeBatch(db, { acks: logOnly.slice(i, i + batch), telemetry: [], statuses: [] }, noLedger);
    });
    await db.query('CREATE TEMP TABLE bench_raw_acks (device_id text, seq bigint, version int, state text, at timestamptz, reason text, interval_index int)');
    const copy = await timed(async () => {
      for (let i = 0; i < acks.length; i += batch) {
        await db.transaction((tx) => tx.copyInto('bench_raw_acks', ['device_id', 'seq', 'version', 'state', 'at', 'reason', 'interval_index'],
          acks.slice(i, i + batch).map((a) => [a.deviceId, a.seq, a.version, a.state, a.at, null, null])));
      }
    });

    // end to end through the embedded broker and a gateway: new seqs, so every ack is new
    const wire = make(acks.length);
    const broker = await startEmbeddedBroker({ port: 0, host: '127.0.0.1', logger: quiet, verify: async (u) => u });
    const gateway = await startGateway({ db, url: broker.url, credentials: broker.gateway, clientId: `bench-${randomBytes(3).toString('hex')}`, sink: ledgerSink, logger: quiet, batchSize: batch });
    const clients: MqttClient[] = [];
    for (let i = 0; i < publishers; i++) clients.push((await connectMqtt(broker.url, { clientId: ids[i]!, username: ids[i]!, password: 'x' })).client);
    const target = acks.length * 3;
    const e2e = await timed(async () => {
      // publisher i carries the acks of devices i, i + publishers, … (topics are its own device's: the bench's broker lets any device id in)
      await Promise.all(clients.map(async (c, i) => {
        const own = ids[i]!;
        const mine = wire.filter((_, k) => k % publishers === i);
        await Promise.all(mine.map((a) => c.publishAsync(deviceTopic(own, 'ack'), JSON.stringify({ ...a, deviceId: own }), { qos: 1 })));
      }));
      for (;;) {
        const [row] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM device_acks');
        if (Number(row!.n) >= target) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    await Promise.all(clients.map((c) => c.endAsync()));
    await gateway.stop();
    await broker.close();

    printTable(`Fleet ack ingestion on ${db.kind}: ${fmt(acks.length)} acks (${fmt(n)} devices × 3)`, ['work', 'time ms', 'acks per second', 'reference', 'reference ms', 'ratio'], [
      [`gateway writer (COPY stage, exactly-once insert, applyAcks) in batches of ${fmt(batch)}`, fmt(writer.ms), fmt((acks.length / writer.ms) * 1000),
        'raw COPY of the same rows into a bare table', fmt(copy.ms), fmt(writer.ms / copy.ms, 2)],
      [`the same writer, execution log only (no ledger update)`, fmt(logWriter.ms), fmt((logOnly.length / logWriter.ms) * 1000),
        'raw COPY of the same rows into a bare table', fmt(copy.ms), fmt(logWriter.ms / copy.ms, 2)],
      [`end to end: ${publishers} MQTT publishers → embedded broker → gateway → database`, fmt(e2e.ms), fmt((wire.length / e2e.ms) * 1000),
        'raw COPY of the same rows into a bare table', fmt(copy.ms), fmt(e2e.ms / copy.ms, 2)],
    ]);
  } finally {
    await drop();
    await db.close();
  }
}
